// Inspects one file (a MIME part's content, or a zip entry) against the
// attachment policy: its name, its content, and, for archives and Office
// files, what is inside, a bounded number of levels deep. One Inspector per
// message: it counts archive entries and unpacked bytes over all parts.
//
// A file is read through a ByteSource (bytes.ts), never loaded whole: its
// first bytes, an archive's directory and headers, an OLE file's sectors.
// An archive entry that is itself looked into (a zip or Office file in a
// zip) is inflated into a PartSink: memory while small, else a temporary
// file, removed when it has been looked at.
import type { ResolvedConfig } from '../../config/load.js';
import { PartSink, type HoldOptions, type PartBody } from '../../scan/part-body.js';
import { openBody, runOn, type ByteSource } from './bytes.js';
import { describeExtension, executableWhat, isMacroExtension, nameParts, sniff, type Magic } from './detect.js';
import { hasVbaProject, isInstaller, oleDirectory } from './ole.js';
import { copyEntry, entryHead, entryLocal, zipListing, type ZipEntry, type ZipListing } from './zip.js';
import type { AttachmentRule } from '../findings.js';

export type Settings = ResolvedConfig['checks']['attachments'];

/** What decided, recorded as the evidence's `rule` (checks/findings.ts). */
export type Rule = AttachmentRule;

export interface Finding {
  rule: Rule;
  /** What the file is, for the reply: "a Windows program". */
  what: string;
  /** The extension that decided (rule extension, double_extension, macro by name). */
  ext: string | null;
  /** The trusted-looking extension before it ("pdf" in "Rechnung.pdf.exe"). */
  decoy: string | null;
  /** What the content was recognised as: pe, elf, ole-vba, ooxml-vba, msi, ... */
  detected: string | null;
  /** Entry names inside archives, outermost first; [] for the attachment itself. */
  entry: string[];
}

export interface ArchiveLimit {
  limit: 'archive_entries' | 'archive_bytes';
  max: number;
  entry: string[];
}

export type Outcome =
  | { kind: 'ok'; detected: string | null }
  | { kind: 'finding'; finding: Finding }
  | { kind: 'limit'; limit: ArchiveLimit };

const MACRO_WHAT = 'an Office document with macros';
/** Bytes of an entry read to recognise its type (the PE header is within the first 1 KB in practice). */
const SNIFF_BYTES = 4096;

/**
 * What sniff() says of the whole file, from its first bytes: sniff looks at
 * the first 64 bytes and, for "MZ", at the PE signature where e_lfanew
 * points, which may lie beyond them: then those 4 bytes are read too.
 */
async function sniffSource(src: ByteSource): Promise<Magic | null> {
  const head = await src.read(0, SNIFF_BYTES);
  if (head.length >= 0x40 && head[0] === 0x4d && head[1] === 0x5a) {
    const pe = head.readUInt32LE(0x3c);
    if (pe + 4 > head.length && pe + 4 <= src.size) {
      const sig = await src.read(pe, 4);
      if (sig.length === 4 && sig.readUInt32BE(0) === 0x50450000) return 'pe';
    }
  }
  return sniff(head);
}

export class Inspector {
  /** Archive entries listed so far in this message. */
  entries = 0;
  /** Bytes unpacked from archives so far in this message. */
  unpacked = 0;
  private readonly blocked: ReadonlySet<string>;

  /** `hold`: where unpacked archive entries go (memory caps, directory for temporary files). */
  constructor(private readonly s: Settings, private readonly hold: HoldOptions) {
    this.blocked = new Set(s.blocked_extensions);
  }

  /** The policy on a file name alone. */
  byName(name: string | null, entry: string[]): Finding | null {
    if (!name) return null;
    const { ext, decoy } = nameParts(name);
    if (!ext) return null;
    if (this.blocked.has(ext)) return { rule: decoy ? 'double_extension' : 'extension', what: describeExtension(ext), ext, decoy, detected: null, entry };
    if (this.s.block_macros && isMacroExtension(ext)) return { rule: 'macro', what: MACRO_WHAT, ext, decoy: null, detected: null, entry };
    return null;
  }

  /** A whole file: its names (the first is the one shown), then its content. */
  async file(names: Array<string | null>, body: PartBody, entry: string[] = []): Promise<Outcome> {
    for (const n of names) {
      const f = this.byName(n, entry);
      if (f) return { kind: 'finding', finding: f };
    }
    const src = await openBody(body);
    try {
      return await this.content(src, 0, entry);
    } finally {
      await src.close();
    }
  }

  /** `level`: archive levels already opened above this file. */
  private async content(src: ByteSource, level: number, entry: string[]): Promise<Outcome> {
    const magic = await sniffSource(src);
    const exe = executableWhat(magic);
    if (exe && this.s.block_executable_content) {
      return { kind: 'finding', finding: { rule: 'content', what: exe, ext: null, decoy: null, detected: magic, entry } };
    }
    if (magic === 'ole') return this.ole(src, entry);
    // Shell scripts ("#!") are recognised but not refused: a mail client
    // does not run them, and admins mail them to each other. The detected
    // type is in the evidence.
    if (magic !== 'zip' && magic !== null) return { kind: 'ok', detected: magic };
    // Without "PK" at the start, still a zip if the directory at the end
    // says so (a self-extractor, or bytes put in front to hide the archive).
    if (level >= this.s.max_archive_depth) return { kind: 'ok', detected: magic };
    const listing = await runOn(zipListing(src.size, this.s.max_archive_entries - this.entries + 1), src);
    if (!listing) return { kind: 'ok', detected: magic };
    return this.archive(src, listing, level + 1, entry);
  }

  private async ole(src: ByteSource, entry: string[]): Promise<Outcome> {
    const dir = await runOn(oleDirectory(src.size), src);
    if (dir && this.s.block_executable_content && isInstaller(dir)) {
      return { kind: 'finding', finding: { rule: 'content', what: 'a Windows installer', ext: null, decoy: null, detected: 'msi', entry } };
    }
    if (dir && this.s.block_macros && hasVbaProject(dir)) {
      return { kind: 'finding', finding: { rule: 'macro', what: MACRO_WHAT, ext: null, decoy: null, detected: 'ole-vba', entry } };
    }
    return { kind: 'ok', detected: 'ole' };
  }

  private async archive(src: ByteSource, listing: ZipListing, level: number, entry: string[]): Promise<Outcome> {
    this.entries += listing.entries.length;
    if (this.entries > this.s.max_archive_entries) {
      return { kind: 'limit', limit: { limit: 'archive_entries', max: this.s.max_archive_entries, entry } };
    }
    // OOXML (.docx, .xlsm ...) is a zip with [Content_Types].xml; macros live in a vbaProject.bin.
    const ooxml = listing.entries.some((e) => e.name === '[Content_Types].xml');
    if (this.s.block_macros && ooxml && listing.entries.some((e) => /(^|\/)vbaproject\.bin$/i.test(e.name))) {
      return { kind: 'finding', finding: { rule: 'macro', what: MACRO_WHAT, ext: null, decoy: null, detected: 'ooxml-vba', entry } };
    }
    const detected = ooxml ? 'ooxml' : 'zip';
    if (!this.s.scan_archives) return { kind: 'ok', detected };
    let encrypted = false;
    for (const e of listing.entries) {
      if (e.isDir) continue;
      const here = [...entry, e.name];
      const local = (await runOn(entryLocal(src.size, e), src))?.localName;
      for (const n of [e.name, ...e.altNames, ...(local && local !== e.name ? [local] : [])]) {
        const f = this.byName(n, here);
        if (f) return { kind: 'finding', finding: f };
      }
      if (e.encrypted) {
        encrypted = true;
        continue;
      }
      const head = await runOn(entryHead(src.size, e, SNIFF_BYTES), src);
      if (!head) continue;
      const m: Magic | null = sniff(head);
      const exe = executableWhat(m);
      if (exe && this.s.block_executable_content) {
        return { kind: 'finding', finding: { rule: 'content', what: exe, ext: null, decoy: null, detected: m, entry: here } };
      }
      if ((m === 'zip' || m === 'ole') && level < this.s.max_archive_depth) {
        const r = await this.inner(src, e, level, here);
        if (r.kind !== 'ok') return r;
      }
    }
    if (encrypted && this.s.block_encrypted_archives) {
      return { kind: 'finding', finding: { rule: 'encrypted_archive', what: 'a password-protected archive', ext: null, decoy: null, detected: 'zip-encrypted', entry } };
    }
    return { kind: 'ok', detected };
  }

  /** An archive or Office file inside an archive: unpacked (bounded by max_decoded_bytes over the message), then looked into. */
  private async inner(src: ByteSource, e: ZipEntry, level: number, here: string[]): Promise<Outcome> {
    const sink = new PartSink(this.hold);
    try {
      const got = await copyEntry(src, e, this.s.max_decoded_bytes - this.unpacked, async (chunk) => {
        sink.write(chunk);
        if (sink.backlogged) await sink.settle();
      });
      if (got === 'too_large') return { kind: 'limit', limit: { limit: 'archive_bytes', max: this.s.max_decoded_bytes, entry: here } };
      // Unreadable (unknown method, broken data): nothing more to see here; clamd still scans the part.
      if (got === null) return { kind: 'ok', detected: null };
      const body = await sink.finish();
      this.unpacked += sink.size;
      const inner = await openBody(body);
      try {
        return await this.content(inner, level, here);
      } finally {
        await inner.close();
      }
    } finally {
      await sink.dispose();
    }
  }
}
