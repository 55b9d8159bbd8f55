// What kind of file a virus or dangerous-attachment refusal was about, from
// the evidence of the refusing check (checks/virus, checks/attachments). The
// advice depends on it: "send it again as PDF" is wrong when the infected
// file was a PDF, and "without macros" means nothing for a program.

/**
 * office: a Word, Excel or PowerPoint file (or one with macros);
 * pdf: a PDF; program: an executable or a script; disguised: a program
 * behind a harmless-looking extension (Rechnung.pdf.exe); archive: the file
 * was, or was inside, an archive or a disk image; other: a file of another
 * kind; none: no file is named (the message itself, or nothing recorded).
 */
export type AttachmentKind = 'office' | 'pdf' | 'program' | 'disguised' | 'archive' | 'other' | 'none';

export const ATTACHMENT_KINDS: readonly AttachmentKind[] = ['office', 'pdf', 'program', 'disguised', 'archive', 'other', 'none'];

const OFFICE = new Set([
  'doc', 'docx', 'docm', 'dot', 'dotx', 'dotm', 'xls', 'xlsx', 'xlsm', 'xlsb', 'xlt', 'xltx', 'xltm', 'xlam',
  'ppt', 'pptx', 'pptm', 'pot', 'potx', 'potm', 'pps', 'ppsx', 'ppsm', 'ppam', 'sldm', 'rtf', 'odt', 'ods', 'odp',
]);
const PROGRAM = new Set([
  'exe', 'scr', 'com', 'bat', 'cmd', 'pif', 'js', 'jse', 'vbs', 'vbe', 'wsf', 'wsh', 'ps1', 'psm1', 'msi', 'msp', 'msc',
  'lnk', 'hta', 'cpl', 'jar', 'dll', 'sys', 'reg', 'app', 'sh', 'elf', 'apk', 'appx', 'msix', 'scf', 'url', 'inf',
]);
const ARCHIVE = new Set(['zip', 'rar', '7z', 'gz', 'tgz', 'tar', 'bz2', 'xz', 'cab', 'arj', 'lzh', 'ace', 'iso', 'img', 'vhd', 'vhdx', 'z']);
/** What checks/attachments/detect.ts calls a program when it looks at the bytes. */
const PROGRAM_MAGIC = new Set(['pe', 'mz', 'elf', 'macho', 'lnk', 'msi']);
const MACRO_MAGIC = new Set(['ooxml-vba', 'ole-vba']);

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}
function list(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

/** The last extension of a file name, lower case; trailing dots and spaces (a Windows trick) do not count. */
export function extensionOf(name: string): string | null {
  const base = name.replace(/[\s.]+$/, '');
  const slash = Math.max(base.lastIndexOf('/'), base.lastIndexOf('\\'));
  const file = base.slice(slash + 1);
  const dot = file.lastIndexOf('.');
  return dot > 0 ? file.slice(dot + 1).trim().toLowerCase() : null;
}

/** "Rechnung.pdf.exe", "Foto.jpg      .scr": a program's extension after a harmless one. */
function looksDisguised(name: string): boolean {
  const parts = name.replace(/[\s.]+$/, '').split('.').map((p) => p.trim().toLowerCase());
  if (parts.length < 3) return false;
  return PROGRAM.has(parts.at(-1)!) && !PROGRAM.has(parts.at(-2)!) && parts.at(-2)!.length > 0;
}

/**
 * The kind of file in a refusing virus or attachments check's evidence:
 * `filename`, `ext`, `rule`, `detected`, `content_type`, `within` (the
 * archives it was found in) and `entry` (the path inside the archive).
 */
export function attachmentKind(ev: Record<string, unknown>): AttachmentKind {
  const file = str(ev.filename);
  const entry = list(ev.entry);
  const inner = entry.at(-1) ?? null;
  const names = [file, inner].filter((x): x is string => x !== null);
  const rule = str(ev.rule);
  const detected = str(ev.detected)?.toLowerCase() ?? null;
  const type = str(ev.content_type)?.toLowerCase() ?? '';
  if (names.length === 0 && !detected && !rule && !type) return 'none';
  if (rule === 'double_extension' || names.some(looksDisguised)) return 'disguised';
  if (rule === 'macro' || (detected && MACRO_MAGIC.has(detected))) return 'office';
  const exts = names.map(extensionOf).filter((x): x is string => x !== null);
  const ext = str(ev.ext)?.toLowerCase() ?? null;
  // Found inside an archive, or the attachment is one: what was sent is the archive.
  if (list(ev.within).length > 0 || entry.length > 0 || (file && ARCHIVE.has(extensionOf(file) ?? '')) || rule === 'encrypted_archive') return 'archive';
  if (rule === 'content' || (detected && PROGRAM_MAGIC.has(detected)) || (ext && PROGRAM.has(ext)) || exts.some((x) => PROGRAM.has(x))) return 'program';
  if (exts.some((x) => OFFICE.has(x)) || /msword|ms-excel|ms-powerpoint|officedocument|opendocument/.test(type)) return 'office';
  if (exts.includes('pdf') || type === 'application/pdf') return 'pdf';
  // A blocked type not named above: the blocked list is of programs, scripts and shortcuts (checks/attachments/config.ts).
  if (rule === 'extension') return 'program';
  return names.length ? 'other' : 'none';
}
