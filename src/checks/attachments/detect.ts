// What a file is, by its name and by its first bytes. Pure functions, no I/O:
// the attachment check (index.ts) and the archive walk (inspect.ts) use them
// on MIME parts and on zip entries alike.

/** What each blocked extension is, in words for a reply ("Attachment X is a Windows program"). */
const WHAT: Record<string, string> = {
  exe: 'a Windows program', com: 'a DOS/Windows program', scr: 'a Windows screen saver (a program)', pif: 'a Windows program shortcut',
  cpl: 'a Windows control panel program', dll: 'a Windows program library', ocx: 'a Windows program library', sys: 'a Windows driver',
  drv: 'a Windows driver', msi: 'a Windows installer', msp: 'a Windows installer patch', mst: 'a Windows installer transform',
  jar: 'a Java program', xll: 'an Excel add-in program', apk: 'an Android app', appx: 'a Windows app package',
  appxbundle: 'a Windows app package', msix: 'a Windows app package', msixbundle: 'a Windows app package',
  application: 'a Windows ClickOnce program', gadget: 'a Windows gadget (a program)',
  bat: 'a Windows batch script', cmd: 'a Windows batch script', vb: 'a VBScript', vbs: 'a VBScript', vbe: 'an encoded VBScript',
  js: 'a JScript script', jse: 'an encoded JScript script', ws: 'a Windows Script Host script', wsf: 'a Windows Script Host script',
  wsh: 'a Windows Script Host settings file', wsc: 'a Windows script component', hta: 'an HTML application (a program)',
  ps1: 'a PowerShell script', psm1: 'a PowerShell script', psd1: 'a PowerShell script', sct: 'a Windows script component',
  shb: 'a Windows shell scrap', shs: 'a Windows shell scrap', msc: 'a Windows management console file', reg: 'a Windows registry file',
  inf: 'a Windows setup script', scf: 'a Windows Explorer command file', chm: 'a compiled help file (it can run programs)',
  hlp: 'a Windows help file (it can run programs)', lnk: 'a Windows shortcut', url: 'an internet shortcut',
  'library-ms': 'a Windows library shortcut', 'settingcontent-ms': 'a Windows settings shortcut',
  iso: 'a disk image', img: 'a disk image', vhd: 'a disk image', vhdx: 'a disk image',
};

/** Office formats that carry macros by definition (OOXML macro-enabled types). */
const MACRO_EXTENSIONS = new Set(['docm', 'dotm', 'xlsm', 'xltm', 'xlam', 'pptm', 'potm', 'ppsm', 'ppam', 'sldm']);

/**
 * Extensions a sender would see and trust, placed before the real one to
 * hide it ("Rechnung.pdf.exe"; Windows hides the known last extension).
 */
const DECOYS = new Set([
  'pdf', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'odt', 'ods', 'odp', 'rtf', 'txt', 'csv', 'xml', 'htm', 'html',
  'jpg', 'jpeg', 'png', 'gif', 'bmp', 'tif', 'tiff', 'heic', 'svg', 'mp3', 'mp4', 'wav', 'avi', 'mov', 'mpg', 'wmv',
  'zip', 'rar', '7z', 'eml', 'msg', 'ics', 'vcf',
]);

export function describeExtension(ext: string): string {
  return WHAT[ext] ?? 'a blocked file type';
}

export function isMacroExtension(ext: string): boolean {
  return MACRO_EXTENSIONS.has(ext);
}

export interface NameParts {
  /** The extension Windows acts on, lower case, without the dot; null when the name has none. */
  ext: string | null;
  /** A trusted-looking extension just before it ("pdf" in "Rechnung.pdf.exe" and "Rechnung.pdf   .exe"). */
  decoy: string | null;
}

// Blank and invisible characters that hide what follows in a mail client or
// Explorer: spaces, no-break and typographic spaces, zero-width characters,
// bidirectional overrides, byte order mark.
const HIDING = '\\s\\u00a0\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2064\\u3000\\ufeff';
const TRAILING_HIDING = new RegExp(`[${HIDING}]+$`, 'u');
// Windows drops trailing dots and spaces from a file name ("x.exe." runs as "x.exe").
const TRAILING_DOTS = new RegExp(`[.${HIDING}]+$`, 'u');

/** Splits a (client-sent, untrusted) file name into the extension that counts and a decoy before it. */
export function nameParts(name: string): NameParts {
  let n = name.replace(/[\x00-\x1f\x7f]/g, '').replace(TRAILING_DOTS, '');
  // A path in the name ("C:\\Users\\x\\a.exe", "dir/a.exe"): the last component counts.
  n = n.slice(Math.max(n.lastIndexOf('/'), n.lastIndexOf('\\')) + 1);
  const dot = n.lastIndexOf('.');
  if (dot < 0) return { ext: null, decoy: null };
  const ext = n.slice(dot + 1).toLowerCase();
  if (ext === '') return { ext: null, decoy: null };
  const before = n.slice(0, dot).replace(TRAILING_HIDING, '');
  const dot2 = before.lastIndexOf('.');
  const decoy = dot2 >= 0 ? before.slice(dot2 + 1).toLowerCase() : null;
  return { ext, decoy: decoy !== null && DECOYS.has(decoy) ? decoy : null };
}

/** Types recognised by content. */
export type Magic =
  | 'pe' | 'mz' | 'elf' | 'macho' | 'lnk'
  | 'ole' | 'zip' | 'pdf' | 'rar' | '7z' | 'gzip' | 'shebang';

const PE_WHAT: Partial<Record<Magic, string>> = {
  pe: 'a Windows program',
  mz: 'a DOS/Windows program',
  elf: 'a Linux program',
  macho: 'a macOS program',
  lnk: 'a Windows shortcut',
};

/** For executable magics: what to call it in a reply; null for the others. */
export function executableWhat(m: Magic | null): string | null {
  return m ? PE_WHAT[m] ?? null : null;
}

const LNK_HEADER = Buffer.from('4c0000000114020000000000c000000000000046', 'hex');
const OLE_MAGIC = Buffer.from('d0cf11e0a1b11ae1', 'hex');

/**
 * Recognises a file by its first bytes (64 are enough for all but the PE
 * header check, which looks where the MZ header points, within `b`).
 */
export function sniff(b: Buffer): Magic | null {
  if (b.length >= 2 && b[0] === 0x4d && b[1] === 0x5a) {
    // "MZ": DOS header. e_lfanew at 0x3c points to "PE\0\0" in a Windows program.
    if (b.length >= 0x40) {
      const pe = b.readUInt32LE(0x3c);
      if (pe + 4 <= b.length && b.readUInt32BE(pe) === 0x50450000) return 'pe';
    }
    // A text that happens to start with "MZ" has no NUL bytes in its first 64.
    if (b.subarray(0, 64).includes(0)) return 'mz';
    return null;
  }
  if (b.length >= 4 && b.readUInt32BE(0) === 0x7f454c46) return 'elf';
  if (b.length >= 4) {
    const m = b.readUInt32BE(0);
    // Mach-O 32/64 bit, both byte orders. (0xcafebabe is also a Java class file: not used.)
    if (m === 0xfeedface || m === 0xfeedfacf || m === 0xcefaedfe || m === 0xcffaedfe) return 'macho';
  }
  if (b.length >= LNK_HEADER.length && b.subarray(0, LNK_HEADER.length).equals(LNK_HEADER)) return 'lnk';
  if (b.length >= 8 && b.subarray(0, 8).equals(OLE_MAGIC)) return 'ole';
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6) || (b[2] === 7 && b[3] === 8))) return 'zip';
  if (b.length >= 5 && b.subarray(0, 5).toString('latin1') === '%PDF-') return 'pdf';
  if (b.length >= 6 && b.subarray(0, 6).toString('latin1') === 'Rar!\x1a\x07') return 'rar';
  if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from('377abcaf271c', 'hex'))) return '7z';
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.length >= 3 && b[0] === 0x23 && b[1] === 0x21 && (b[2] === 0x2f || b[2] === 0x20)) return 'shebang';
  return null;
}
