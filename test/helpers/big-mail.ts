// Many large messages at once, and the memory of the process receiving them:
// shared by the RSS test (test/e2e/51-content/memory.test.ts) and the
// benchmark (bench/mime-memory.ts).
//
// One message body is built once and written to every connection (the
// sender's memory is not what is measured); the server's memory is read from
// its own figures in /proc (VmRSS now, VmHWM the kernel's high-water mark).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { RawSmtp } from './smtp-client.js';

/** A stored (uncompressed) zip holding one file: the attachment check lists it, clamd unpacks it. */
function storedZip(name: string, data: Buffer): Buffer {
  const n = Buffer.from(name, 'latin1');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(0, 14); // CRC left 0: nothing here checks it
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(n.length, 28);
  const cdOffset = local.length + n.length + data.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(central.length + n.length, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, n, data, central, n, eocd]);
}

/**
 * A multipart message of about `bytes` (CRLF, ready for DATA without dot
 * stuffing: base64 lines never start with a dot): a text part, a zip with
 * random data and a PDF-looking file, both base64, both large.
 */
export function bigMessage(bytes: number, subject = 'large attachments'): Buffer {
  // base64 with CRLF every 76 characters: 78 bytes per 57 decoded.
  const decoded = Math.floor(((bytes - 2048) * 57) / 78);
  const zipPart = Math.floor(decoded * 0.6);
  const b64 = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\r\n');
  const zip = storedZip('data.bin', randomBytes(zipPart - 100));
  const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(decoded - zipPart - 9)]);
  const lines = [
    'From: Sender <sender@example.org>', 'To: demo@demo.test', `Subject: ${subject}`,
    `Message-ID: <${randomBytes(8).toString('hex')}@example.org>`, 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="=_big"', '',
    '--=_big', 'Content-Type: text/plain; charset=utf-8', '', 'Two large files attached.',
    '--=_big', 'Content-Type: application/zip; name="data.zip"', 'Content-Disposition: attachment; filename="data.zip"',
    'Content-Transfer-Encoding: base64', '', b64(zip),
    '--=_big', 'Content-Type: application/pdf; name="scan.pdf"', 'Content-Disposition: attachment; filename="scan.pdf"',
    'Content-Transfer-Encoding: base64', '', b64(pdf),
    '--=_big--', '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

/** One SMTP transaction with a prepared body; the final reply, or the error. */
export async function sendBody(port: number, body: Buffer, opts: { localAddress?: string; rcpt?: string; timeoutMs?: number } = {}): Promise<string> {
  let c: RawSmtp | null = null;
  try {
    c = await RawSmtp.connect(port, { localAddress: opts.localAddress });
    const t = opts.timeoutMs ?? 300_000;
    const step = async (line: string | null): Promise<string> => {
      if (line !== null) c!.write(`${line}\r\n`);
      const r = await c!.reply(t);
      if (r === null) throw new Error(`connection closed after ${line ?? 'connect'}`);
      return r;
    };
    await step(null);
    await step('EHLO client.example.org');
    await step('MAIL FROM:<sender@example.org>');
    const rcpt = await step(`RCPT TO:<${opts.rcpt ?? 'demo@demo.test'}>`);
    if (!rcpt.startsWith('250')) return rcpt;
    const data = await step('DATA');
    if (!data.startsWith('354')) return data;
    c.write(body);
    const final = await step(body.subarray(-2).toString() === '\r\n' ? '.' : '\r\n.');
    c.write('QUIT\r\n');
    return final;
  } catch (e) {
    return `error: ${(e as Error).message}`;
  } finally {
    await c?.close();
  }
}

/** VmRSS and VmHWM of a process, in KiB (Linux /proc). */
export function memoryOf(pid: number): { rssKiB: number; hwmKiB: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k: string): number => Number(/^(\w+):\s+(\d+)/m.exec(s.slice(s.indexOf(`${k}:`)))?.[2] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

export interface Burst {
  /** Final replies, one per message. */
  replies: string[];
  /** RSS of the server before the first message. */
  beforeKiB: number;
  /** Highest RSS of the server while the messages were in flight (kernel high-water mark, or sampled if higher). */
  peakKiB: number;
  /** RSS once all replies came. */
  afterKiB: number;
  seconds: number;
}

/**
 * Sends `count` copies of `body` at once (from 127.0.0.60-69 when
 * `spread`) and reads the server's memory before, during and after.
 */
export async function burst(pid: number, port: number, body: Buffer, count: number, spread = true): Promise<Burst> {
  const before = memoryOf(pid);
  let sampled = before.rssKiB;
  const timer = setInterval(() => {
    try {
      sampled = Math.max(sampled, memoryOf(pid).rssKiB);
    } catch { /* the process is gone: the replies will say so */ }
  }, 100);
  const t0 = Date.now();
  try {
    const replies = await Promise.all(Array.from({ length: count }, (_, i) =>
      sendBody(port, body, spread ? { localAddress: `127.0.0.${60 + (i % 10)}` } : {})));
    const after = memoryOf(pid);
    return { replies, beforeKiB: before.rssKiB, peakKiB: Math.max(sampled, after.hwmKiB), afterKiB: after.rssKiB, seconds: (Date.now() - t0) / 1000 };
  } finally {
    clearInterval(timer);
  }
}
