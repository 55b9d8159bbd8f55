// The record format. A fixed 20-byte header, then the payload:
//   0  magic "MPJ1"     (finds record starts again after damage)
//   4  payload length   u32 LE
//   8  CRC-32           u32 LE, over bytes 12..end (the seq and the payload)
//  12  seq              u64 LE
//  20  payload          UTF-8 JSON of the LedgerEvent
// The seq sits right after the CRC so that the checksummed bytes are one
// contiguous range (one CRC call per record), and a damaged seq is caught
// like a damaged payload: the reader trusts seqs to find missing records.
import CRC32 from 'crc-32';
import type { LedgerEvent } from '../types.js';

export const MAGIC = Buffer.from('MPJ1', 'ascii');
export const HEADER_BYTES = 20;
/** A check's details are a few KiB; anything near this is a bug upstream, not an event to keep. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

function crcOf(buf: Buffer, start: number, end: number): number {
  return CRC32.buf(buf.subarray(start, end)) >>> 0;
}

/** The event as stored: compact JSON without the null/undefined top-level fields. */
export function encodePayload(event: LedgerEvent): Buffer {
  const compact: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) if (v !== null && v !== undefined) compact[k] = v;
  const payload = Buffer.from(JSON.stringify(compact), 'utf8');
  if (payload.length > MAX_PAYLOAD_BYTES) {
    throw new Error(`journal: event too large (${payload.length} bytes of JSON, at most ${MAX_PAYLOAD_BYTES}): ${event.kind} ${event.check_name ?? ''}`.trimEnd());
  }
  return payload;
}

export function encodeRecord(seq: number, payload: Buffer): Buffer {
  const rec = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  MAGIC.copy(rec, 0);
  rec.writeUInt32LE(payload.length, 4);
  payload.copy(rec, HEADER_BYTES);
  setSeq(rec, seq);
  return rec;
}

/** Gives an encoded record another seq (and its CRC): after a failed write the seqs are handed out again. */
export function setSeq(rec: Buffer, seq: number): void {
  rec.writeBigUInt64LE(BigInt(seq), 12);
  rec.writeUInt32LE(crcOf(rec, 12, rec.length), 8);
}

export function recordSeq(rec: Buffer, at = 0): number {
  return Number(rec.readBigUInt64LE(at + 12));
}

/**
 * Whether a valid record starts at `at` in buf, whose bytes up to `avail`
 * are known: its total size, 0 when it is not one, or -1 when the header
 * looks right but more bytes than available would be needed to tell.
 */
export function checkRecord(buf: Buffer, at: number, avail: number): number {
  if (at + HEADER_BYTES > avail) return avail - at >= 4 && !buf.subarray(at, at + 4).equals(MAGIC) ? 0 : -1;
  if (buf[at] !== 0x4d || buf[at + 1] !== 0x50 || buf[at + 2] !== 0x4a || buf[at + 3] !== 0x31) return 0;
  const len = buf.readUInt32LE(at + 4);
  if (len > MAX_PAYLOAD_BYTES) return 0;
  const size = HEADER_BYTES + len;
  if (at + size > avail) return -1;
  return crcOf(buf, at + 12, at + size) === buf.readUInt32LE(at + 8) ? size : 0;
}

export function decodePayload(buf: Buffer, at: number, size: number): LedgerEvent {
  return JSON.parse(buf.toString('utf8', at + HEADER_BYTES, at + size)) as LedgerEvent;
}
