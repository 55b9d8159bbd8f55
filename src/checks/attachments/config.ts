import { z } from 'zod';
import { checkSettings } from '../settings.js';

/**
 * File types that have no business in mail: programs, scripts, shortcuts and
 * the disk images malware uses to get programs past Windows' download
 * warning (Mark of the Web). detect.ts says what each one is in the reply.
 */
export const DEFAULT_BLOCKED_EXTENSIONS: readonly string[] = [
  // programs and installers
  'exe', 'com', 'scr', 'pif', 'cpl', 'dll', 'ocx', 'sys', 'drv', 'msi', 'msp', 'mst', 'jar', 'xll',
  'apk', 'appx', 'appxbundle', 'msix', 'msixbundle', 'application', 'gadget',
  // scripts
  'bat', 'cmd', 'vb', 'vbs', 'vbe', 'js', 'jse', 'ws', 'wsf', 'wsh', 'wsc', 'hta', 'ps1', 'psm1', 'psd1',
  'sct', 'shb', 'shs', 'msc', 'reg', 'inf', 'scf', 'chm', 'hlp',
  // shortcuts
  'lnk', 'url', 'library-ms', 'settingcontent-ms',
  // disk images
  'iso', 'img', 'vhd', 'vhdx',
];

const extension = z.string()
  .transform((s) => s.toLowerCase().replace(/^\./, ''))
  .pipe(z.string().regex(/^[a-z0-9_-]{1,32}$/, 'expected a file name extension such as exe or .exe'));

export const settings = checkSettings({
  blocked_extensions: z.array(extension).default([...DEFAULT_BLOCKED_EXTENSIONS])
    .describe('file name extensions refused in attachments and inside zip archives, also as the last of a double extension such as Rechnung.pdf.exe; the list replaces the default of programs, scripts, shortcuts and disk images (exe, com, scr, msi, jar, bat, cmd, js, vbs, wsf, hta, ps1, lnk, iso ...: src/checks/attachments/config.ts)'),
  block_executable_content: z.boolean().default(true)
    .describe('refuse programs recognised by their content (Windows MZ/PE, Linux ELF, macOS Mach-O, Windows shortcut, Windows installer) whatever their file name says'),
  block_macros: z.boolean().default(true)
    .describe('refuse Office files with macros: .docm/.xlsm/.pptm ... by name, OOXML files containing a vbaProject.bin, OLE .doc/.xls with a VBA project'),
  scan_archives: z.boolean().default(true)
    .describe('look into zip archives for all of the above: the entry names, the first bytes of each entry, archives and Office files inside (no full unpack)'),
  block_encrypted_archives: z.boolean().default(false)
    .describe('refuse zip archives with password-protected entries (their content cannot be checked, neither here nor by clamd)'),
  max_archive_depth: z.number().int().min(1).max(5).default(2)
    .describe('archive levels looked into: 1 = a zip attachment, 2 = also a zip (or Office file) inside it'),
  max_archive_entries: z.number().int().min(1).default(10000)
    .describe('entries of all archives in one message; more is refused as an archive bomb (552 5.3.4)'),
  max_depth: z.number().int().min(1).max(100).default(20)
    .describe('deepest MIME nesting (the message is 0, its parts 1, ...); deeper is refused as a MIME bomb (552 5.3.4); also the limit of the virus check\'s part walk'),
  max_parts: z.number().int().min(1).default(1000)
    .describe('MIME parts in one message, attached messages included; more is refused (552 5.3.4)'),
  max_decoded_bytes: z.number().int().min(1024).default(64 * 1024 * 1024)
    .describe('bytes of all parts once decoded (base64 and quoted-printable), and of all archive content unpacked for a look inside; more is refused (552 5.3.4)'),
}).describe('attachment policy: executables, scripts, macro Office files, archives with those; MIME limits');
