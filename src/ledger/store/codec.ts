// How a store keeps events: the events of one session that arrived in one
// batch travel as one chunk, deflated with a preset dictionary. Events of one
// session repeat their field names, node, addresses and HELO, so a chunk of
// a dozen events shrinks to a fraction; the dictionary gives even a chunk of
// one or two events the field names for free (RFC 1950 section 2.2, FDICT).
// Reading back is one inflate and one JSON.parse per chunk.
import zlib from 'node:zlib';
import type { LedgerEvent, StoredEvent } from '../types.js';

/** What a chunk holds per event: the event, its store id, and where it came from (journal stream and seq, if any). */
export interface ChunkEvent extends StoredEvent {
  /** Journal stream of the record; absent for ingested and converted events. */
  jstream?: string;
  jseq?: number;
}

// Bump when the dictionary changes: chunks carry the version they were made with.
export const CODEC_VERSION = 1;

// Samples of what events look like. zlib finds matches anywhere in the last
// 32 KiB (the dictionary included); the most common strings go last, closest
// to the data (zlib manual, deflateSetDictionary).
const DICTIONARY_V1 = Buffer.from([
  '"kind":"ingest.line","kind":"message.queued","kind":"mailbox.copy","kind":"imap.expunge","kind":"imap.logout","kind":"imap.login",',
  '"kind":"pop3.logout","kind":"pop3.dele","kind":"pop3.retr","kind":"pop3.login","kind":"message.delivery_failed","kind":"message.recovered",',
  '"kind":"session.protocol_error","kind":"session.limit","kind":"session.refused","kind":"data.rejected","kind":"rcpt.rejected",',
  '"source":"dovecot","source":"postfix","source":"pop3","verdict":"error","verdict":"tempfail","verdict":"reject","verdict":"allow","verdict":"flag","verdict":"skip",',
  '"smtp_code":451,"enhanced_code":"4.7.1","smtp_code":550,"enhanced_code":"5.7.1","enhanced_code":"5.1.1","reply":"550 5.7.1 ',
  '"details":{"stage":"connect","evidence":{"answers":[],"ttl":300,"list":"zen.spamhaus.org","return_code":"127.0.0.2"}},',
  '"details":{"transactions":0,"duration_ms":,"commands":{"ehlo":1,"mail":1,"rcpt":1,"data":1,"quit":1}},"details":{"tls":true,"protocol":"TLSv1.3","cipher":"TLS_AES_256_GCM_SHA384"}',
  '"check_name":"spam","check_name":"virus","check_name":"attachments","check_name":"dnsbl","check_name":"spf","check_name":"dmarc","check_name":"helo","check_name":"client_identity","check_name":"sender_domain","check_name":"recipient","check_name":"size",',
  '"details":{"stage":"rcpt","score":0,"result":"pass","elapsed_ms":0}},',
  '{"id":1,"ts":1700000000000,"node":"mx1","source":"gateway","kind":"session.connect","session":"","client_ip":"127.0.0.1","client_ptr":"localhost","details":{"local":"127.0.0.1:25"}},',
  '{"id":1,"ts":1700000000000,"node":"mx1","source":"gateway","kind":"session.helo","session":"","client_ip":"127.0.0.1","client_ptr":"","helo":"mail.example.com"},',
  '{"id":1,"ts":1700000000000,"node":"mx1","source":"gateway","kind":"mail.from","session":"","ref":"","client_ip":"127.0.0.1","client_ptr":"","helo":"","mail_from":"","size":1000},',
  '{"id":1,"ts":1700000000000,"node":"mx1","source":"gateway","kind":"check.result","session":"","ref":"","client_ip":"127.0.0.1","client_ptr":"","helo":"","mail_from":"","rcpt":"","check_name":"","verdict":"pass","details":{"stage":"data"}},',
  '{"id":1,"ts":1700000000000,"node":"mx1","source":"gateway","kind":"rcpt.accepted","session":"","ref":"","client_ip":"127.0.0.1","client_ptr":"","helo":"","mail_from":"","rcpt":"","smtp_code":250,"enhanced_code":"2.1.5"},',
  '{"id":1,"ts":1700000000000,"node":"mx1","source":"gateway","kind":"data.received","session":"","ref":"","client_ip":"127.0.0.1","client_ptr":"","helo":"","mail_from":"","message_id":"","size":1000},',
  '{"id":1,"ts":1700000000000,"node":"mx1","source":"gateway","kind":"message.delivered","session":"","ref":"","client_ip":"127.0.0.1","client_ptr":"","helo":"","mail_from":"","rcpt":"","message_id":"","size":1000,"smtp_code":250,"enhanced_code":"2.0.0","reply":"250 2.0.0 OK: queued as ","details":{"target":"maildir","path":"","fsync":true}},',
  '{"id":1,"ts":1700000000000,"node":"mx1","source":"gateway","kind":"session.close","session":"","client_ip":"127.0.0.1","client_ptr":"","helo":"","details":{"transactions":1}}',
].join(''));

const DICTIONARIES: Record<number, Buffer> = { 1: DICTIONARY_V1 };

// Field order of a decoded event: the order in which the first store (one
// SQLite row per event) returned them, which `trace --json` shows.
const ORDER = ['id', 'ts', 'node', 'source', 'kind', 'session', 'ref', 'client_ip', 'client_ptr', 'helo', 'mail_from', 'rcpt',
  'message_id', 'check_name', 'enhanced_code', 'reply', 'verdict', 'size', 'smtp_code', 'details'] as const;

/** The event as a store keeps it: the recipient lower-cased (research compares recipients case-blind), nothing empty. */
export function normalizeEvent(e: LedgerEvent, id: number, from?: { stream: string; seq: number }): ChunkEvent {
  const out: Record<string, unknown> = {};
  for (const k of ORDER) {
    const v = k === 'id' ? id : k === 'rcpt' ? e.rcpt?.toLowerCase() : (e as unknown as Record<string, unknown>)[k];
    if (v !== null && v !== undefined) out[k] = v;
  }
  if (from) { out.jstream = from.stream; out.jseq = from.seq; }
  return out as unknown as ChunkEvent;
}

/** Codec 0: the JSON as it is. */
export const PLAIN = 0;
// A chunk this small gains little (a few dozen bytes) and each deflate call
// costs tens of microseconds of setup, whatever its size: most of a log
// ingest's chunks (a delivery, a queue line) are this small.
const PLAIN_BELOW = 320;
// Level 1 and a 8 KiB window: the same size within a few bytes on chunks of
// a few KiB (they fit the window, dictionary included), a third less time.
const DEFLATE = { dictionary: DICTIONARY_V1, level: 1, windowBits: 13, memLevel: 4 };

type JournalKey = [stream: string, seq: number] | null;

/**
 * The chunk's body and its codec (PLAIN or CODEC_VERSION). The body is the
 * JSON of [events, journal keys]: the events as research reads them, and
 * beside them where each came from (or null when none did), so that
 * decoding for research yields finished events without a copy.
 */
export function encodeChunk(events: ChunkEvent[]): { body: Buffer; codec: number } {
  let keys: JournalKey[] | null = null;
  const clean = events.map((e, i) => {
    if (e.jstream === undefined) return e;
    (keys ??= new Array<JournalKey>(events.length).fill(null))[i] = [e.jstream, e.jseq!];
    const { jstream: _s, jseq: _q, ...rest } = e;
    return rest;
  });
  const json = Buffer.from(JSON.stringify([clean, keys]));
  if (json.length < PLAIN_BELOW) return { body: json, codec: PLAIN };
  return { body: zlib.deflateRawSync(json, DEFLATE), codec: CODEC_VERSION };
}

function parse(body: Buffer, version: number): [StoredEvent[], JournalKey[] | null] {
  if (version === PLAIN) return JSON.parse(body.toString('utf8')) as [StoredEvent[], JournalKey[] | null];
  const dictionary = DICTIONARIES[version];
  if (!dictionary) throw new Error(`store chunk of codec version ${version}, which this mailproof does not know: written by a newer version?`);
  return JSON.parse(zlib.inflateRawSync(body, { dictionary, windowBits: 15 }).toString('utf8')) as [StoredEvent[], JournalKey[] | null];
}

/** The events of a chunk, as research reads them. */
export function decodeChunk(body: Buffer, version: number): StoredEvent[] {
  return parse(body, version)[0];
}

/** The events of a chunk with where each came from (checks of a store against its journals). */
export function decodeChunkWithKeys(body: Buffer, version: number): ChunkEvent[] {
  const [events, keys] = parse(body, version);
  return events.map((e, i) => { const k = keys?.[i]; return k ? { ...e, jstream: k[0], jseq: k[1] } : e; });
}

/** The event without where it came from. */
export function toStored(c: ChunkEvent): StoredEvent {
  const { jstream: _s, jseq: _q, ...e } = c;
  return e;
}
