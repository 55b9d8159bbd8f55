// Walks the MIME structure of a message and yields each leaf part decoded
// (base64, quoted-printable), with its file name, so a scanner finding can
// name the attachment it is in.
//
// The walk is incremental (mailsplit's Splitter reads the message line by
// line and the generator pulls one part at a time), and the limits are
// checked as each node header arrives and as each part is decoded: a MIME
// bomb (thousands of parts, deep nesting, nested messages) is stopped at
// the limit instead of being parsed whole, and the walk ends with a
// 'limits_exceeded' item.
//
// Each part is decoded as it streams by (mailsplit's decoder for its
// transfer encoding) into a PartSink (part-body.ts): memory while the part
// is small, a temporary file next to the spooled message once it is not.
// What the walk holds in memory is bounded however large the message, so
// many large messages at once do not add up to gigabytes.
//
// Attached messages (message/rfc822, also base64-encoded ones, which
// mailsplit would leave as a leaf) are decoded and walked too, one level
// deeper; their parts carry the attached message's name in `within`.
import { once } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Readable, type Transform } from 'node:stream';
import { PartSink, holdFor, type HoldOptions, type PartBody } from './part-body.js';

export interface MimeLimits {
  /** Deepest nesting: the top-level message is 0, its parts 1, ... Default 20. */
  maxDepth: number;
  /** MIME nodes in all (containers and leaves, attached messages included). Default 1000. */
  maxParts: number;
  /** Decoded bytes in all (leaf parts and attached messages). Default 64 MiB. */
  maxDecodedBytes: number;
  /** Bytes of one node's header block. Default 1 MiB. */
  maxHeaderBytes: number;
}

export const DEFAULT_MIME_LIMITS: Readonly<MimeLimits> = {
  maxDepth: 20,
  maxParts: 1000,
  maxDecodedBytes: 64 * 1024 * 1024,
  maxHeaderBytes: 1024 * 1024,
};

export type MimeLimit = 'depth' | 'parts' | 'decoded_bytes' | 'header_bytes';

export interface MimePart {
  /** IMAP-style part number: "1" for a single-part message, "2", "1.3"; "2.1" inside an attached message at 2. */
  path: string;
  depth: number;
  /** From Content-Disposition filename or Content-Type name, MIME-word decoded. Attacker-controlled. */
  filename: string | null;
  /** Lower-case type/subtype; text/plain when missing. */
  contentType: string;
  disposition: string | null;
  /** Content-Transfer-Encoding as given (lower case), null when none. */
  encoding: string | null;
  /** Names of the message/rfc822 parts this one is inside, outermost first (file name or "part N"). */
  within: string[];
  /** Decoded bytes. */
  size: number;
  /**
   * The decoded content: in memory when small, else a temporary file that
   * the walk removes when the consumer asks for the next item.
   */
  body: PartBody;
}

export type WalkItem =
  | { kind: 'part'; part: MimePart }
  /** Last item of a walk that stopped at a limit. `at` is the part number where it did. */
  | { kind: 'limits_exceeded'; limit: MimeLimit; max: number; at: string };

// mailsplit ships no types (src/types/mailsplit.d.ts covers only Headers);
// the members used here, as lib/mime-node.js and lib/message-splitter.js have them.
interface SplitNode {
  type: 'node';
  parentNode: SplitNode | false;
  contentType: string | false;
  multipart: string | false;
  _boundary: Buffer | false;
  filename: string | false;
  disposition: string | false;
  encoding: string | false;
  partNr: Array<number | string> | false;
  getDecoder(): Transform;
}
type SplitEvent = SplitNode | { type: 'body' | 'data'; node: SplitNode; value?: Buffer };
type SplitterCtor = new (opts: { ignoreEmbedded?: boolean; maxHeadSize?: number; maxChildNodes?: number }) => Transform;

const { Splitter } = createRequire(import.meta.url)('mailsplit') as { Splitter: SplitterCtor };

/** A Buffer, a message body as MessageFacts has it, or a byte stream. */
export type WalkSource = Buffer | { buffer: Buffer } | { path: string } | Readable;

// Read size: the splitter hands out slices of what it is given and queues
// up to 16 of them, and smaller buffers are returned to the system sooner:
// ten walks of a 20 MB spooled message at once peak at ~90 MB RSS with
// 16 KiB reads, ~155 MB with 64 KiB reads (also when 64 KiB reads are
// copied into 16 KiB pieces), at about the same CPU.
const CHUNK = 16 * 1024;

function readable(src: WalkSource): Readable {
  if (src instanceof Readable) return src;
  if (Buffer.isBuffer(src) || 'buffer' in src) {
    const buf = Buffer.isBuffer(src) ? src : src.buffer;
    return Readable.from((function* () {
      for (let off = 0; off < buf.length; off += CHUNK) yield buf.subarray(off, off + CHUNK);
    })(), { objectMode: false });
  }
  return fs.createReadStream(src.path, { highWaterMark: CHUNK });
}

interface WalkState {
  limits: MimeLimits;
  hold: HoldOptions;
  nodes: number;
  decoded: number;
}

interface Leaf {
  node: SplitNode;
  path: string;
  depth: number;
  /** mailsplit's decoder for the part's transfer encoding (base64, quoted-printable, or none). */
  decoder: Transform;
  ended: Promise<void>;
  sink: PartSink;
}

/**
 * Yields the decoded leaf parts of a message, in order, then ends; or ends
 * with one 'limits_exceeded' item. Throws only when the input cannot be read
 * or a part cannot be written to its temporary file.
 *
 * A part's body is the consumer's until it asks for the next item: then
 * the walk removes the part's file (if it has one). Breaking out of the
 * loop stops the walk and frees its streams and files.
 */
export async function* walkParts(
  src: WalkSource,
  limits: Partial<MimeLimits> = {},
  hold: Partial<HoldOptions> = {},
): AsyncGenerator<WalkItem, void, undefined> {
  const state: WalkState = {
    limits: { ...DEFAULT_MIME_LIMITS, ...limits },
    hold: { ...holdFor(!(src instanceof Readable) && !Buffer.isBuffer(src) && 'path' in src ? src : null), ...hold },
    nodes: 0,
    decoded: 0,
  };
  yield* walkLevel(readable(src), { depth: 0, prefix: '', within: [] }, state);
}

function partPath(node: SplitNode, prefix: string): string {
  const nums = (node.partNr || []).filter((n) => typeof n === 'number');
  const own = nums.length ? nums.join('.') : '1';
  return prefix ? `${prefix}.${own}` : own;
}

/** Returns true when the walk stopped at a limit (the item has been yielded). */
async function* walkLevel(
  input: Readable,
  base: { depth: number; prefix: string; within: string[] },
  state: WalkState,
): AsyncGenerator<WalkItem, boolean, undefined> {
  const { limits } = state;
  const splitter = new Splitter({
    ignoreEmbedded: true,
    maxHeadSize: limits.maxHeaderBytes,
    // Ours (counted over all levels) triggers first; this is a backstop.
    maxChildNodes: limits.maxParts + 1,
  });
  input.on('error', (e) => splitter.destroy(e));
  input.pipe(splitter);

  const depthOf = new Map<SplitNode, number>();
  let cur: Leaf | null = null;
  let over: WalkItem | null = null;

  const startLeaf = (node: SplitNode, path: string, depth: number): Leaf => {
    const decoder = node.getDecoder();
    const sink = new PartSink(state.hold);
    decoder.on('data', (d: Buffer) => {
      state.decoded += d.length;
      if (state.decoded > limits.maxDecodedBytes) {
        over ??= { kind: 'limits_exceeded', limit: 'decoded_bytes', max: limits.maxDecodedBytes, at: path };
      } else {
        sink.write(d);
      }
    });
    const ended = new Promise<void>((resolve, reject) => {
      decoder.on('end', resolve);
      decoder.on('error', reject);
    });
    // Rejections are taken where the leaf is finished; this one may come first.
    ended.catch(() => undefined);
    return { node, path, depth, decoder, ended, sink };
  };

  /** Decodes one piece of a part's body, waiting while the decoder or the part's file is behind. */
  const feed = async (leaf: Leaf, value: Buffer): Promise<void> => {
    if (!leaf.decoder.write(value)) await Promise.race([once(leaf.decoder, 'drain'), leaf.ended]);
    if (leaf.sink.backlogged) await leaf.sink.settle();
  };

  /** Ends the current leaf; yields it (or walks it, for an attached message), then drops its body. */
  async function* finishLeaf(leaf: Leaf): AsyncGenerator<WalkItem, boolean, undefined> {
    try {
      leaf.decoder.end();
      await leaf.ended;
      if (over) {
        yield over;
        return true;
      }
      const body = await leaf.sink.finish();
      const n = leaf.node;
      const filename = n.filename || null;
      const contentType = n.contentType || 'text/plain';
      if (contentType === 'message/rfc822' || contentType === 'message/global') {
        return yield* walkLevel(readable(body), { depth: leaf.depth + 1, prefix: leaf.path, within: [...base.within, filename ?? `part ${leaf.path}`] }, state);
      }
      yield {
        kind: 'part',
        part: {
          path: leaf.path, depth: leaf.depth, filename, contentType,
          disposition: n.disposition || null, encoding: n.encoding || null,
          within: base.within, size: leaf.sink.size, body,
        },
      };
      return false;
    } finally {
      await leaf.sink.dispose();
    }
  }

  try {
    for await (const ev of splitter as AsyncIterable<SplitEvent>) {
      if (over) break;
      if (ev.type === 'node') {
        if (cur) {
          const leaf: Leaf = cur;
          cur = null;
          if (yield* finishLeaf(leaf)) return true;
        }
        const path = partPath(ev, base.prefix);
        state.nodes++;
        if (state.nodes > limits.maxParts) {
          over = { kind: 'limits_exceeded', limit: 'parts', max: limits.maxParts, at: path };
          break;
        }
        const depth = ev.parentNode ? (depthOf.get(ev.parentNode) ?? base.depth) + 1 : base.depth;
        if (depth > limits.maxDepth) {
          over = { kind: 'limits_exceeded', limit: 'depth', max: limits.maxDepth, at: path };
          break;
        }
        depthOf.set(ev, depth);
        // A multipart with a boundary is a container: its children follow
        // as nodes. Everything else (also a multipart without a boundary,
        // whose body mailsplit hands out as 'data') is a leaf.
        if (!(ev.multipart && ev._boundary)) cur = startLeaf(ev, path, depth);
      } else if (cur && ev.node === cur.node && ev.value && (ev.type === 'body' || !cur.node._boundary)) {
        await feed(cur, ev.value);
      }
    }
    if (!over && cur) {
      const leaf: Leaf = cur;
      cur = null;
      if (yield* finishLeaf(leaf)) return true;
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'EMAXLEN') throw e;
    over = /header/i.test(err.message)
      ? { kind: 'limits_exceeded', limit: 'header_bytes', max: limits.maxHeaderBytes, at: base.prefix || '1' }
      : { kind: 'limits_exceeded', limit: 'parts', max: limits.maxParts, at: base.prefix || '1' };
  } finally {
    input.unpipe(splitter);
    input.destroy();
    splitter.destroy();
    const left = cur as Leaf | null;
    left?.decoder.destroy();
    await left?.sink.dispose();
  }
  if (over) {
    yield over;
    return true;
  }
  return false;
}
