// Reply texts of the content checks (attachments and virus): ASCII, short,
// naming the attachment and saying what the sender can do. File names come
// from the sender: cleaned and bounded before they go into a reply.
import type { MimeLimit } from '../../scan/parts.js';
import type { Reply } from '../../mail/reply.js';
import { asciiSafe } from '../../util/sanitize.js';
import type { ArchiveLimit, Finding } from './inspect.js';

/** A client-sent file name for a reply: printable ASCII, white space runs as one space, at most 80 characters. */
export function nameForReply(name: string): string {
  return asciiSafe(name.replace(/\s+/g, ' ').trim(), 80);
}

/** Where a part sits, for a reply: "Attachment a.exe", "Attachment a.exe in attached message fw.eml", "Part 1.2 (text/html)". */
export function partForReply(p: { path: string; filename: string | null; contentType: string; within: string[] }, capital = true): string {
  const what = p.filename
    ? `${capital ? 'Attachment' : 'attachment'} ${nameForReply(p.filename)}`
    : `${capital ? 'Part' : 'part'} ${asciiSafe(p.path, 20)} (${asciiSafe(p.contentType, 60)})`;
  return p.within.length ? `${what} in attached message ${p.within.map(nameForReply).join(' / ').slice(0, 120)}` : what;
}

const NOT_PROGRAMS = 'programs and scripts are not accepted by mail';
const ANOTHER_WAY = 'Use another way to share it';

/** 554 5.7.1 (RFC 3463: delivery not authorized, message refused) for a policy finding in `subject` ("Attachment X"). */
export function findingReply(subject: string, f: Finding): Reply {
  const inArchive = f.entry.length > 0;
  const entryName = inArchive ? f.entry.map(nameForReply).join(' / ').slice(0, 160) : '';
  // "Attachment X is a Windows program (.exe)" or "Attachment X.zip contains y.exe, a Windows program (.exe)".
  const is = (what: string): string => (inArchive ? `${subject} contains ${entryName}, ${what}` : `${subject} is ${what}`);
  const also = inArchive ? ', also not in archives' : '';
  let text: string;
  switch (f.rule) {
    case 'extension':
      text = `${is(`${f.what} (.${f.ext})`)}; ${NOT_PROGRAMS}${also}. ${ANOTHER_WAY}`;
      break;
    case 'double_extension':
      text = `${is(`${f.what} (.${f.ext}) disguised as .${f.decoy}`)}; ${NOT_PROGRAMS}${also}. ${ANOTHER_WAY}`;
      break;
    case 'content':
      text = `${is(`${f.what} by its content, whatever its name says`)}; ${NOT_PROGRAMS}${also}. ${ANOTHER_WAY}`;
      break;
    case 'macro':
      text = `${is(f.what)}; macros are not accepted by mail${also}. Save it without macros (e.g. as .docx, .xlsx or PDF) and send again`;
      break;
    case 'encrypted_archive':
      text = `${is('a password-protected archive')} whose content cannot be checked; such archives are not accepted here. Send the files unprotected or use another way to share them`;
      break;
  }
  return { code: 554, enhanced: '5.7.1', text };
}

const mb = (n: number): string => (n >= 1024 * 1024 ? `${Math.round((n / 1024 / 1024) * 10) / 10} MB` : `${Math.round(n / 1024)} KB`);

/** 552 5.3.4 (RFC 3463: message too big for system) for a MIME structure over a limit. */
export function mimeLimitReply(limit: MimeLimit, max: number): Reply {
  const texts: Record<MimeLimit, string> = {
    parts: `Message has more than ${max} MIME parts; it was not accepted. Send the content in several simpler messages`,
    depth: `Message has MIME parts nested more than ${max} levels deep; it was not accepted. Send the content in a simpler message`,
    decoded_bytes: `Message content is larger than ${mb(max)} once decoded; it was not accepted. Send the files in several messages or use another way to share them`,
    header_bytes: `Message has a MIME part header larger than ${mb(max)}; it was not accepted. Send the content in a simpler message`,
  };
  return { code: 552, enhanced: '5.3.4', text: texts[limit] };
}

/** 552 5.3.4 for an archive over a limit (entries in all, or unpacked size). */
export function archiveLimitReply(subject: string, l: ArchiveLimit): Reply {
  const text = l.limit === 'archive_entries'
    ? `${subject} holds more than ${l.max} archive entries in all; it was not accepted. Send fewer files or use another way to share them`
    : `${subject} unpacks to more than ${mb(l.max)}; it was not accepted. Use another way to share it`;
  return { code: 552, enhanced: '5.3.4', text };
}
