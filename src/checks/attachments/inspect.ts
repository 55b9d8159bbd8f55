// Inspects one file (a MIME part's content, or a zip entry) against the
// attachment policy: its name, its content, and, for archives and Office
// files, what is inside, a bounded number of levels deep. One Inspector per
// message: it counts archive entries and unpacked bytes over all parts.
import type { ResolvedConfig } from '../../config/load.js';
import { describeExtension, executableWhat, isMacroExtension, nameParts, sniff, type Magic } from './detect.js';
import { hasVbaProject, isInstaller, readOleDirectory } from './ole.js';
import { entryData, entryPrefix, listZip, readEntry, type ZipListing } from './zip.js';

export type Settings = ResolvedConfig['checks']['attachments'];

export type Rule = 'extension' | 'double_extension' | 'content' | 'macro' | 'encrypted_archive';

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

export class Inspector {
  /** Archive entries listed so far in this message. */
  entries = 0;
  /** Bytes unpacked from archives so far in this message. */
  unpacked = 0;
  private readonly blocked: ReadonlySet<string>;

  constructor(private readonly s: Settings) {
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
  async file(names: Array<string | null>, content: Buffer, entry: string[] = []): Promise<Outcome> {
    for (const n of names) {
      const f = this.byName(n, entry);
      if (f) return { kind: 'finding', finding: f };
    }
    return this.content(content, 0, entry);
  }

  /** `level`: archive levels already opened above this file. */
  private async content(content: Buffer, level: number, entry: string[]): Promise<Outcome> {
    const magic = sniff(content);
    const exe = executableWhat(magic);
    if (exe && this.s.block_executable_content) {
      return { kind: 'finding', finding: { rule: 'content', what: exe, ext: null, decoy: null, detected: magic, entry } };
    }
    if (magic === 'ole') return this.ole(content, entry);
    // Shell scripts ("#!") are recognised but not refused: a mail client
    // does not run them, and admins mail them to each other. The detected
    // type is in the evidence.
    if (magic !== 'zip' && magic !== null) return { kind: 'ok', detected: magic };
    // Without "PK" at the start, still a zip if the directory at the end
    // says so (a self-extractor, or bytes put in front to hide the archive).
    if (level >= this.s.max_archive_depth) return { kind: 'ok', detected: magic };
    const listing = listZip(content, this.s.max_archive_entries - this.entries + 1);
    if (!listing) return { kind: 'ok', detected: magic };
    return this.archive(content, listing, level + 1, entry);
  }

  private ole(content: Buffer, entry: string[]): Outcome {
    const dir = readOleDirectory(content);
    if (dir && this.s.block_executable_content && isInstaller(dir)) {
      return { kind: 'finding', finding: { rule: 'content', what: 'a Windows installer', ext: null, decoy: null, detected: 'msi', entry } };
    }
    if (dir && this.s.block_macros && hasVbaProject(dir)) {
      return { kind: 'finding', finding: { rule: 'macro', what: MACRO_WHAT, ext: null, decoy: null, detected: 'ole-vba', entry } };
    }
    return { kind: 'ok', detected: 'ole' };
  }

  private async archive(buf: Buffer, listing: ZipListing, level: number, entry: string[]): Promise<Outcome> {
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
      const local = entryData(buf, e)?.localName;
      for (const n of [e.name, ...e.altNames, ...(local && local !== e.name ? [local] : [])]) {
        const f = this.byName(n, here);
        if (f) return { kind: 'finding', finding: f };
      }
      if (e.encrypted) {
        encrypted = true;
        continue;
      }
      const head = entryPrefix(buf, e, SNIFF_BYTES);
      if (!head) continue;
      const m: Magic | null = sniff(head);
      const exe = executableWhat(m);
      if (exe && this.s.block_executable_content) {
        return { kind: 'finding', finding: { rule: 'content', what: exe, ext: null, decoy: null, detected: m, entry: here } };
      }
      if ((m === 'zip' || m === 'ole') && level < this.s.max_archive_depth) {
        const full = await readEntry(buf, e, this.s.max_decoded_bytes - this.unpacked);
        if (full === 'too_large') return { kind: 'limit', limit: { limit: 'archive_bytes', max: this.s.max_decoded_bytes, entry: here } };
        if (!full) continue;
        this.unpacked += full.length;
        const r = await this.content(full, level, here);
        if (r.kind !== 'ok') return r;
      }
    }
    if (encrypted && this.s.block_encrypted_archives) {
      return { kind: 'finding', finding: { rule: 'encrypted_archive', what: 'a password-protected archive', ext: null, decoy: null, detected: 'zip-encrypted', entry } };
    }
    return { kind: 'ok', detected };
  }
}
