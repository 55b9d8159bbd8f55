// What the scanner calls cost: the virus check (clamd) and the spam check
// (rspamd) run directly, as the gateway runs them at DATA, at a concurrency
// of 20, before and after the scanner work of "Scanner calls" in
// bench/RESULTS.md, in the same run and on the same scanners:
//
//   virus   before: checks.virus.scan=parts (each MIME part, then the whole message)
//           after:  checks.virus.scan=whole (one stream; parts only after a finding)
//   spam    before: scanners.spam.rspamd_skip=none (rspamd repeats SPF, DKIM, DMARC, RBL)
//           after:  scanners.spam.rspamd_skip=ours (told what mailproof's checks judged)
//   both    the DATA stage with both checks (side by side), before and after
//
// for a 4 KiB text message and a 100 KiB message with a PDF and a .docx
// (DKIM-signed, so rspamd has a signature to verify). Per message: wall
// time of the check (mean and p50), CPU of this process (the checks' own
// work), of clamd and of rspamd; rspamd's DNS requests per message (its
// log). The rounds alternate before and after; the medians are reported.
//
//   node dist/bench/scanners.js [--n 300] [--c 20] [--rounds 3] [--out FILE.json]
//
// Real clamd (the project's test signatures) and rspamd 3.4 (its SPF, DKIM,
// DMARC, ARC and RBL modules on) from the test helpers; their DNS is a Knot
// server on 127.0.0.154 with the sender's SPF, DKIM and DMARC records and
// an empty zen.spamhaus.org (other lists' zones answer REFUSED at once).
// The client is 198.51.100.7 (not a local address: rspamd skips its
// network checks for those). Loopback only.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { dkimSign } from 'mailauth';
import { loadConfig } from '../src/config/load.js';
import type { Logger } from '../src/log/logger.js';
import { Pipeline } from '../src/checks/pipeline.js';
import { spamChecks } from '../src/checks/spam/index.js';
import { testContext } from '../src/checks/testing.js';
import type { Check, CheckContext, CheckDeps, Verdict } from '../src/checks/types.js';
import { virusChecks } from '../src/checks/virus/index.js';
import { buildClamd, buildSpam } from '../src/runtime/services.js';
import { startClamd, type ClamdInstance } from '../test/helpers/clamd.js';
import { startDnsServer, type DnsServer } from '../test/helpers/dns-server.js';
import { startRspamd, type RspamdInstance } from '../test/helpers/rspamd.js';
import { args, median } from './lib/proc.js';

const a = args(process.argv.slice(2));
const N = Number(a.n ?? 300);
const C = Number(a.c ?? 20);
const ROUNDS = Number(a.rounds ?? 3);
const DNS_HOST = '127.0.0.154';
const CLIENT = '198.51.100.7';
const log = { warn: () => undefined, info: () => undefined, error: () => undefined } as unknown as Logger;

// ---- messages ---------------------------------------------------------------

/** Words from a fixed generator: text that compresses like prose, the same every run. */
function prose(bytes: number, seed: number): string {
  const words = ['Angebot', 'Rechnung', 'the', 'project', 'delivery', 'schedule', 'invoice', 'quarter', 'meeting', 'budget',
    'Lieferung', 'customer', 'contract', 'review', 'and', 'for', 'with', 'we', 'will', 'send', 'number', 'total', 'items', 'page'];
  let x = seed >>> 0;
  let out = '';
  while (out.length < bytes) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out += words[x % words.length] + ((x >>> 8) % 13 === 0 ? '.\n' : ' ');
    if ((x >>> 4) % 97 === 0) out += String(x % 100000) + ' ';
  }
  return out.slice(0, bytes);
}

/** Bytes that do not compress (a photo, a scan), the same every run. */
function noise(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  let x = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** A PDF: a deflated content stream of `bytes` of text (clamd inflates it) and an image of `image` bytes. */
function pdf(bytes: number, image: number): Buffer {
  const text = prose(bytes, 7).split('\n').map((l, i) => `BT /F1 10 Tf 40 ${800 - (i % 70) * 11} Td (${l.replace(/[()\\]/g, '')}) Tj ET`).join('\n');
  const stream = zlib.deflateSync(Buffer.from(text));
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    null,
  ];
  const img = noise(image, 13);
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n')];
  const offsets: number[] = [];
  let at = parts[0]!.length;
  objs.forEach((o, i) => {
    const body = o !== null
      ? Buffer.from(`${i + 1} 0 obj\n${o}\nendobj\n`)
      : i === 3
        ? Buffer.concat([Buffer.from(`${i + 1} 0 obj\n<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n`), stream, Buffer.from('\nendstream\nendobj\n')])
        : Buffer.concat([Buffer.from(`${i + 1} 0 obj\n<< /Type /XObject /Subtype /Image /Width 200 /Height ${Math.ceil(image / 600)} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length ${img.length} >>\nstream\n`), img, Buffer.from('\nendstream\nendobj\n')]);
    offsets.push(at);
    parts.push(body);
    at += body.length;
  });
  const xref = `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  parts.push(Buffer.from(`${xref}trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${at}\n%%EOF\n`));
  return Buffer.concat(parts);
}

/** A .docx (OOXML zip, made with Debian's zip) whose document holds `bytes` of text, and an image of `image` bytes. */
function docx(tmp: string, bytes: number, image: number): Buffer {
  const dir = fs.mkdtempSync(path.join(tmp, 'docx-'));
  const files: Record<string, string> = {
    '[Content_Types].xml': '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
    '_rels/.rels': '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
    'word/document.xml': '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
      + prose(bytes, 11).split('\n').map((p) => `<w:p><w:r><w:t>${p}</w:t></w:r></w:p>`).join('') + '</w:body></w:document>',
  };
  const all: Record<string, string | Buffer> = { ...files, 'word/media/image1.jpeg': noise(image, 17) };
  for (const [f, c] of Object.entries(all)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), c);
  }
  const out = path.join(tmp, 'Angebot.docx');
  execFileSync('zip', ['-q', '-X', '-r', out, ...Object.keys(all)], { cwd: dir });
  return fs.readFileSync(out);
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\n');

function headers(subject: string, id: string): string[] {
  return [
    'From: Anna Schmidt <anna@sender.example>', 'To: Bob <bob@demo.test>', `Subject: ${subject}`,
    `Message-ID: <${id}@sender.example>`, 'Date: Sun, 6 Dec 2026 04:00:00 +0000', 'MIME-Version: 1.0',
  ];
}

async function signed(raw: string, privateKey: string): Promise<Buffer> {
  const r = await dkimSign(raw, { canonicalization: 'relaxed/relaxed', signingDomain: 'sender.example', selector: 'bench', privateKey });
  // Received on top, as the gateway has it (LF line ends, collect.ts).
  return Buffer.from(`Received: from mail.sender.example (mail.sender.example [${CLIENT}]) by mx.demo.test with ESMTP id 7KQ2M9XH4PTV; Sun, 6 Dec 2026 04:00:01 +0000\n${r.signatures}${raw}`.replace(/\r\n/g, '\n'));
}

async function messages(tmp: string, privateKey: string): Promise<Record<string, Buffer>> {
  const text = [...headers('Agenda for Thursday', 'text4k'), 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '',
    prose(3600, 3), ''].join('\n');
  const att = [...headers('Angebot und Rechnung', 'att100k'), 'Content-Type: multipart/mixed; boundary="=_b"', '',
    '--=_b', 'Content-Type: text/plain; charset=utf-8', '', prose(2000, 5),
    '--=_b', 'Content-Type: application/pdf; name="Rechnung.pdf"', 'Content-Disposition: attachment; filename="Rechnung.pdf"', 'Content-Transfer-Encoding: base64', '', b64(pdf(40_000, 30_500)),
    '--=_b', 'Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name="Angebot.docx"',
    'Content-Disposition: attachment; filename="Angebot.docx"', 'Content-Transfer-Encoding: base64', '', b64(docx(tmp, 60_000, 30_500)),
    '--=_b--', ''].join('\n');
  return { 'text 4 KiB': await signed(text, privateKey), 'PDF+docx 100 KiB': await signed(att, privateKey) };
}

// ---- measuring -------------------------------------------------------------

const TICK = 100; // USER_HZ on Linux

/** CPU seconds of processes (utime+stime of /proc/PID/stat: every thread, also those that ended). */
function procCpu(pids: number[]): number {
  let ticks = 0;
  for (const p of pids) {
    try {
      const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8').slice(fs.readFileSync(`/proc/${p}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return ticks / TICK;
}

/** The processes that hold a file under `dir` open: rspamd's main process and workers have its log open. */
function pidsUsing(dir: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readdirSync(`/proc/${e}/fd`).some((fd) => { try { return fs.readlinkSync(`/proc/${e}/fd/${fd}`).startsWith(dir); } catch { return false; } })) out.push(Number(e));
    } catch { /* gone or not ours */ }
  }
  return out;
}

/** rspamd's "dns req: N" of its task log lines written since `from` (a byte offset). */
function dnsRequests(rspamd: RspamdInstance, from: number): { n: number; total: number } {
  const text = rspamd.log().slice(from);
  let n = 0;
  let total = 0;
  for (const m of text.matchAll(/dns req: (\d+)/g)) {
    n++;
    total += Number(m[1]);
  }
  return { n, total };
}

interface Sample { wallMeanMs: number; wallP50Ms: number; perSecond: number; nodeCpuMs: number; clamdCpuMs: number; rspamdCpuMs: number; dnsPerMsg: number | null; verdicts: string }

async function measure(
  run: (ctx: CheckContext) => Promise<string>, ctxFor: (i: number) => CheckContext, env: { clamd: ClamdInstance; rspamdPids: number[]; rspamd: RspamdInstance },
): Promise<Sample> {
  // Warm-up: connections, rspamd's and clamd's caches.
  await Promise.all(Array.from({ length: C }, (_, i) => run(ctxFor(i))));
  const walls: number[] = [];
  const kinds = new Map<string, number>();
  const logAt = env.rspamd.log().length;
  const cpu0 = process.cpuUsage();
  const clamd0 = procCpu([env.clamd.pid]);
  const rspamd0 = procCpu(env.rspamdPids);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < N) {
      const i = next++;
      const s = performance.now();
      const k = await run(ctxFor(i));
      walls.push(performance.now() - s);
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
  }));
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const clamd = procCpu([env.clamd.pid]) - clamd0;
  const rspamd = procCpu(env.rspamdPids) - rspamd0;
  // rspamd writes its log line after the reply: give it a moment.
  await new Promise((r) => setTimeout(r, 300));
  const dns = dnsRequests(env.rspamd, logAt);
  return {
    wallMeanMs: walls.reduce((x, y) => x + y, 0) / walls.length,
    wallP50Ms: median(walls),
    perSecond: (N * 1000) / elapsed,
    nodeCpuMs: (cpu.user + cpu.system) / 1000 / N,
    clamdCpuMs: (clamd * 1000) / N,
    rspamdCpuMs: (rspamd * 1000) / N,
    dnsPerMsg: dns.n ? dns.total / dns.n : null,
    verdicts: [...kinds].map(([k, n]) => `${k} ${n}`).join(', '),
  };
}

// ---- main ------------------------------------------------------------------

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailproof-bench-scanners-'));
  let dns: DnsServer | null = null;
  let clamd: ClamdInstance | null = null;
  let rspamd: RspamdInstance | null = null;
  try {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const dkimTxt = `v=DKIM1; k=rsa; p=${p}`.match(/.{1,250}/g)!.map((s) => `"${s}"`).join(' ');
    dns = await startDnsServer({
      host: DNS_HOST,
      zones: {
        'sender.example': [
          'sender.example. 300 IN MX 10 mail.sender.example.',
          'sender.example. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"',
          'mail.sender.example. 300 IN A 198.51.100.7',
          `bench._domainkey.sender.example. 300 IN TXT ${dkimTxt}`,
          '_dmarc.sender.example. 300 IN TXT "v=DMARC1; p=none"',
        ],
        'zen.spamhaus.org': ['zen.spamhaus.org. 300 IN TXT "bench"'],
      },
    });
    clamd = await startClamd();
    const on = '';
    rspamd = await startRspamd({ nameservers: [dns.address], localD: { 'spf.conf': on, 'dkim.conf': on, 'dmarc.conf': on, 'arc.conf': on, 'rbl.conf': on } });
    const env = { clamd, rspamd, rspamdPids: pidsUsing(rspamd.dir) };
    const msgs = await messages(tmp, pem);

    const cfgFor = (o: string[]) => loadConfig({
      dataDir: '/nonexistent',
      overrides: [
        `scanners.clamd.address=127.0.0.1:${clamd!.tcp.port}`, 'scanners.spam.backend=rspamd', `scanners.spam.address=${rspamd!.url}`,
        'checks.dnsbl.zones=[{zone: zen.spamhaus.org, type: block}]', 'checks.allowlist.networks=[]', ...o,
      ],
    });
    const variants = {
      before: cfgFor(['checks.virus.scan=parts', 'scanners.spam.rspamd_skip=none']),
      after: cfgFor(['checks.virus.scan=whole', 'scanners.spam.rspamd_skip=ours']),
    };
    type Built = { virus: Check; spam: Check; deps: Pick<CheckDeps, 'clamd' | 'spam'>; stage: Pipeline };
    const build = (cfg: ReturnType<typeof cfgFor>): Built => {
      const virus = virusChecks(cfg.checks.virus, cfg, log)[0]!;
      const spam = spamChecks(cfg.checks.spam, cfg, log)[0]!;
      const stage = new Pipeline([{ check: virus, settings: cfg.checks.virus }, { check: spam, settings: cfg.checks.spam }]);
      return { virus, spam, deps: { clamd: buildClamd(cfg), spam: buildSpam(cfg) }, stage };
    };
    const built: Record<'before' | 'after', Built> = { before: build(variants.before), after: build(variants.after) };

    const base = testContext('data');
    // What the MAIL and connect stages judged (the spam check reads it).
    const earlier = new Map<string, Verdict>([['spf', { kind: 'pass' }], ['dnsbl', { kind: 'pass' }]]);
    const ctxFor = (variant: 'before' | 'after', body: Buffer) => (i: number): CheckContext => testContext('data', {
      session: { ...base.session, clientIp: CLIENT, helo: 'mail.sender.example', ptr: 'mail.sender.example' },
      tx: { ref: `BENCH${i}`, mailFrom: 'anna@sender.example', declaredSize: null, rcpts: ['bob@demo.test'] },
      message: { size: body.length, header: Buffer.alloc(0), messageId: null, subject: null, body: { buffer: body } },
      earlier,
    }, built[variant].deps);
    const one = (c: Check) => async (ctx: CheckContext): Promise<string> => {
      try {
        return (await c.run(ctx)).kind;
      } catch (e) {
        return `error ${(e as Error).message.slice(0, 80)}`;
      }
    };
    const stage = (pl: Pipeline) => async (ctx: CheckContext): Promise<string> => {
      const out = await pl.run('data', ctx, false);
      return out.decision ? `${out.decision.check} ${out.decision.kind}` : out.records.map((r) => r.verdict.kind).join('+');
    };

    const results: Record<string, Record<string, Sample[]>> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [mname, body] of Object.entries(msgs)) {
        for (const what of ['virus', 'spam', 'both'] as const) {
          // Alternate which goes first, round by round.
          const order = round % 2 === 0 ? ['before', 'after'] as const : ['after', 'before'] as const;
          for (const v of order) {
            const b = built[v];
            const fn = what === 'virus' ? one(b.virus) : what === 'spam' ? one(b.spam) : stage(b.stage);
            const s = await measure(fn, ctxFor(v, body), env);
            const key = `${mname} | ${what}`;
            ((results[key] ??= {})[v] ??= []).push(s);
            process.stderr.write(`round ${round + 1} ${key} ${v}: ${s.wallMeanMs.toFixed(1)} ms, ${s.perSecond.toFixed(0)}/s, node ${s.nodeCpuMs.toFixed(2)} ms, clamd ${s.clamdCpuMs.toFixed(2)} ms, rspamd ${s.rspamdCpuMs.toFixed(2)} ms, dns ${s.dnsPerMsg ?? '-'} (${s.verdicts})\n`);
          }
        }
      }
    }

    const med = (xs: Sample[], k: keyof Sample): number => median(xs.map((x) => x[k] as number));
    const rows: string[] = [
      `| message | checks | variant | wall ms/msg (mean) | p50 | msgs/s | mailproof CPU ms/msg | clamd CPU ms/msg | rspamd CPU ms/msg | rspamd DNS req/msg |`,
      '|---|---|---|---|---|---|---|---|---|---|',
    ];
    for (const [key, byVariant] of Object.entries(results)) {
      const [mname, what] = key.split(' | ');
      for (const v of ['before', 'after'] as const) {
        const xs = byVariant[v]!;
        const dnsVals = xs.map((x) => x.dnsPerMsg).filter((x): x is number => x !== null);
        rows.push(`| ${mname} | ${what} | ${v} | ${med(xs, 'wallMeanMs').toFixed(1)} | ${med(xs, 'wallP50Ms').toFixed(1)} | ${med(xs, 'perSecond').toFixed(0)} | ${med(xs, 'nodeCpuMs').toFixed(2)} | ${med(xs, 'clamdCpuMs').toFixed(2)} | ${med(xs, 'rspamdCpuMs').toFixed(2)} | ${dnsVals.length ? median(dnsVals).toFixed(1) : '-'} |`);
      }
    }
    const sizes = Object.entries(msgs).map(([k, b]) => `${k}: ${b.length} bytes`).join('; ');
    const report = `Scanner calls, ${new Date().toISOString()}, n=${N} per measurement, c=${C}, median of ${ROUNDS} rounds; ${sizes}; load before: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n\n${rows.join('\n')}\n`;
    process.stdout.write(report);
    if (a.out) fs.writeFileSync(a.out, JSON.stringify({ n: N, c: C, rounds: ROUNDS, sizes, results }, null, 1));
  } finally {
    await rspamd?.stop();
    await clamd?.stop();
    await dns?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
