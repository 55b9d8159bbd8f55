// A realistic generated Postfix log for the ingest benchmark: two MX hosts,
// many concurrent smtpd processes (interleaved lines), postscreen in front,
// ~30% of sessions rejected at RCPT (DNSBL, unknown user, relay, HELO,
// sender domain), accepted messages with 1-3 recipients delivered by LMTP or
// SMTP, deferrals retried later, bounces with their notifications, queue IDs
// from a small pool so that they are reused. Deterministic (seeded).
import fs from 'node:fs';
import { rng } from '../../test/helpers/rng.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];


type Stream = Generator<string, void, undefined>;

export function generate(file: string, targetLines: number, seed = 1): number {
  const rand = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(rand() * a.length)]!;
  let clock = Date.UTC(2026, 10, 20, 0, 0, 0);
  const stamp = (): string => {
    const d = new Date(clock);
    const day = String(d.getUTCDate()).padStart(2, ' ');
    const p2 = (n: number): string => String(n).padStart(2, '0');
    return `${MONTHS[d.getUTCMonth()]} ${day} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  };
  const hosts = ['mx1', 'mx2'];
  let qidCounter = 0;
  // 16-bit pool: with ~150k messages per million lines every ID comes back a few times.
  const qid = (): string => ((qidCounter++ * 40503) & 0xffff).toString(16).toUpperCase().padStart(5, '0') + 'A';
  let pidCounter = 1000;
  const users = Array.from({ length: 500 }, (_, i) => `user${i}`);
  const domains = ['demo.test', 'example.com', 'kunde-a.de', 'kunde-b.de'];
  const senders = Array.from({ length: 2000 }, (_, i) => `s${i}@sender${i % 300}.example`);
  const ip = (): string => `${Math.floor(rand() * 200) + 20}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 254) + 1}`;
  const ptr = (a: string): string => (rand() < 0.2 ? 'unknown' : rand() < 0.3 ? `dsl-${a.replace(/\./g, '-')}.dyn.isp.example` : `mail${Math.floor(rand() * 999)}.sender.example`);
  const rcpt = (): string => `${pick(users)}@${pick(domains)}`;
  const delayed: Array<{ at: number; s: Stream }> = [];

  function* delivery(host: string, id: string, to: string[], from: string, retry: boolean): Stream {
    const agent = rand() < 0.6 ? 'lmtp' : 'smtp';
    const relay = agent === 'lmtp' ? '127.0.0.1[127.0.0.1]:24' : `mx.${to[0]!.split('@')[1]}[192.0.2.${Math.floor(rand() * 250)}]:25`;
    let deferredAny = false;
    if (retry) yield `${stamp()} ${host} postfix/qmgr[900]: ${id}: from=<${from}>, size=${2000 + Math.floor(rand() * 50000)}, nrcpt=${to.length} (queue active)`;
    for (const r of to) {
      const x = rand();
      const dl = (rand() * 2).toFixed(2);
      if (!retry && x < 0.05) {
        deferredAny = true;
        yield `${stamp()} ${host} postfix/${agent}[${pidCounter++}]: ${id}: to=<${r}>, relay=${relay}, delay=${dl}, delays=0.01/0/0.5/0.1, dsn=4.2.0, status=deferred (host ${relay.replace(/:\d+$/, '')} said: 451 4.2.0 Mailbox temporarily unavailable (in reply to RCPT TO command))`;
      } else if (!retry && x < 0.08) {
        yield `${stamp()} ${host} postfix/${agent}[${pidCounter++}]: ${id}: to=<${r}>, relay=${relay}, delay=${dl}, delays=0.01/0/0.5/0.1, dsn=5.2.2, status=bounced (host ${relay.replace(/:\d+$/, '')} said: 552 5.2.2 Mailbox full (in reply to RCPT TO command))`;
        const ndn = qid();
        yield `${stamp()} ${host} postfix/cleanup[${pidCounter}]: ${ndn}: message-id=<${ndn}.${clock}@${host}.example>`;
        yield `${stamp()} ${host} postfix/bounce[${pidCounter++}]: ${id}: sender non-delivery notification: ${ndn}`;
        yield `${stamp()} ${host} postfix/qmgr[900]: ${ndn}: from=<>, size=3000, nrcpt=1 (queue active)`;
        yield `${stamp()} ${host} postfix/smtp[${pidCounter++}]: ${ndn}: to=<${from}>, relay=mx.${from.split('@')[1]}[198.51.100.1]:25, delay=0.3, delays=0/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ${ndn}X)`;
        yield `${stamp()} ${host} postfix/qmgr[900]: ${ndn}: removed`;
      } else {
        const reply = agent === 'lmtp' ? `250 2.0.0 <${r}> ${id}kG9s Saved` : `250 2.0.0 Ok: queued as ${id}Q`;
        yield `${stamp()} ${host} postfix/${agent}[${pidCounter++}]: ${id}: to=<${r}>, relay=${relay}, delay=${dl}, delays=0.01/0/0.5/0.1, dsn=2.0.0, status=sent (${reply})`;
      }
    }
    if (deferredAny) {
      // The retry comes a few thousand lines later (queue run after minutes).
      delayed.push({ at: lines + 2000 + Math.floor(rand() * 5000), s: delivery(host, id, to, from, true) });
      return;
    }
    yield `${stamp()} ${host} postfix/qmgr[900]: ${id}: removed`;
  }

  function* session(): Stream {
    const host = pick(hosts);
    const a = ip();
    const port = 30000 + Math.floor(rand() * 30000);
    yield `${stamp()} ${host} postfix/postscreen[800]: CONNECT from [${a}]:${port} to [192.0.2.1]:25`;
    const listed = rand() < 0.15;
    if (listed) {
      yield `${stamp()} ${host} postfix/dnsblog[801]: addr ${a} listed by domain zen.spamhaus.org as 127.0.0.4`;
      yield `${stamp()} ${host} postfix/postscreen[800]: DNSBL rank 3 for [${a}]:${port}`;
      yield `${stamp()} ${host} postfix/postscreen[800]: NOQUEUE: reject: RCPT from [${a}]:${port}: 550 5.7.1 Service unavailable; client [${a}] blocked using zen.spamhaus.org; from=<${pick(senders)}>, to=<${rcpt()}>, proto=ESMTP, helo=<${ptr(a)}>`;
      yield `${stamp()} ${host} postfix/postscreen[800]: DISCONNECT [${a}]:${port}`;
      return;
    }
    yield `${stamp()} ${host} postfix/postscreen[800]: PASS ${rand() < 0.3 ? 'NEW' : 'OLD'} [${a}]:${port}`;
    const pid = pidCounter++;
    const name = ptr(a);
    const helo = name === 'unknown' ? `[${a}]` : name;
    yield `${stamp()} ${host} postfix/smtpd[${pid}]: connect from ${name}[${a}]`;
    const from = pick(senders);
    if (rand() < 0.18) {
      const r = rcpt();
      const why = pick([
        `550 5.1.1 <${r}>: Recipient address rejected: User unknown in virtual mailbox table`,
        `554 5.7.1 <${r}>: Relay access denied`,
        `450 4.1.8 <${from}>: Sender address rejected: Domain not found`,
        `504 5.5.2 <${helo}>: Helo command rejected: need fully-qualified hostname`,
        `450 4.7.1 Client host rejected: cannot find your reverse hostname, [${a}]`,
      ]);
      yield `${stamp()} ${host} postfix/smtpd[${pid}]: NOQUEUE: reject: RCPT from ${name}[${a}]: ${why}; from=<${from}> to=<${r}> proto=ESMTP helo=<${helo}>`;
      yield `${stamp()} ${host} postfix/smtpd[${pid}]: disconnect from ${name}[${a}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4`;
      return;
    }
    const id = qid();
    const n = 1 + Math.floor(rand() * rand() * 3);
    const to = Array.from({ length: n }, rcpt);
    yield `${stamp()} ${host} postfix/smtpd[${pid}]: ${id}: client=${name}[${a}]`;
    yield `${stamp()} ${host} postfix/cleanup[${pidCounter++}]: ${id}: message-id=<${id}.${clock}.${Math.floor(rand() * 1e9)}@${from.split('@')[1]}>`;
    yield `${stamp()} ${host} postfix/qmgr[900]: ${id}: from=<${from}>, size=${2000 + Math.floor(rand() * 50000)}, nrcpt=${n} (queue active)`;
    yield `${stamp()} ${host} postfix/smtpd[${pid}]: disconnect from ${name}[${a}] ehlo=1 mail=1 rcpt=${n} data=1 quit=1 commands=${n + 4}`;
    yield* delivery(host, id, to, from, false);
  }

  const fd = fs.openSync(file, 'w');
  let buf: string[] = [];
  let lines = 0;
  const active: Stream[] = [];
  while (lines < targetLines) {
    // About 20 sessions in flight: their lines interleave as on a busy MX.
    while (active.length < 20) active.push(session());
    for (let i = delayed.length - 1; i >= 0; i--) {
      if (delayed[i]!.at <= lines) { active.push(delayed[i]!.s); delayed.splice(i, 1); }
    }
    const k = Math.floor(rand() * active.length);
    const r = active[k]!.next();
    if (r.done) { active.splice(k, 1); continue; }
    clock += Math.floor(rand() * 40);
    buf.push(r.value);
    lines++;
    if (buf.length >= 10000) { fs.writeSync(fd, buf.join('\n') + '\n'); buf = []; }
  }
  if (buf.length) fs.writeSync(fd, buf.join('\n') + '\n');
  fs.closeSync(fd);
  return lines;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, '/'))) {
  const [file, n] = process.argv.slice(2);
  // "--help" is not a file name: a 120 MB file of that name once got committed.
  if (!file || file.startsWith('-') || (n !== undefined && !/^\d+$/.test(n))) {
    process.stderr.write('usage: node generate.js FILE [LINES]\n');
    process.exit(64);
  }
  const count = generate(file, Number(n ?? 1000000));
  process.stdout.write(`${count} lines -> ${file}\n`);
}
