import fs from 'node:fs';
import * as fontkit from 'fontkit';
import PDFDocument from 'pdfkit';
import type { CauseBlock, Field, ForwardBlock, ReportModel } from './model.js';

// The PDF report, laid out with pdfkit. DejaVu Sans is embedded (subset) so
// umlauts and whatever Unicode a hostile subject carries render as text that
// pdftotext and screen readers get back. pdfkit's standard 14 fonts only know
// WinAnsi (cp1252): without DejaVu on the machine we fall back to Helvetica
// and show every character outside WinAnsi as '?', rather than let pdfkit
// write bytes that show as other characters.

export const DEJAVU = {
  regular: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  bold: '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
};

/**
 * For text DejaVu has no glyphs for: Chinese, Japanese and Korean (a subject,
 * a file name, a sender's name). WenQuanYi Micro Hei (Debian
 * fonts-wqy-microhei, 5 MB) has them and Latin, Greek and Cyrillic too, so a
 * mixed line can be set in it whole; Droid Sans Fallback lacks Latin and
 * Hangul, Noto CJK is 100 MB. It has no bold face: a bold value with CJK in
 * it is set in its regular weight. A font collection (.ttc): `name` picks the
 * face.
 */
export const FALLBACK = { path: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', name: 'WenQuanYiMicroHei' };

export interface PdfFonts { regular: string; bold: string; fallback?: { path: string; name?: string } }

type Coverage = (cp: number) => boolean;
const coverage = new Map<string, Coverage | null>();
/** Which code points a font file has glyphs for; null when it cannot be read. Cached per file. */
function coverageOf(file: string, name?: string): Coverage | null {
  const key = `${file}\0${name ?? ''}`;
  if (!coverage.has(key)) {
    let c: Coverage | null = null;
    try {
      const f = fontkit.openSync(file, name);
      const font = 'fonts' in f ? f.fonts[0] : f;
      if (font) c = (cp) => font.hasGlyphForCodePoint(cp);
    } catch { /* not there or not a font: no fallback */ }
    coverage.set(key, c);
  }
  return coverage.get(key)!;
}

/**
 * The font a string is set in: the main one, unless it lacks a glyph the
 * fallback has. Per string, not per character: pdfkit measures and wraps a
 * string in one font, and the fallback has Latin too, so a mixed
 * subject stays one readable line.
 */
export function pickFont(s: string, main: Coverage, fallback: Coverage | null): 'main' | 'fallback' {
  if (!fallback) return 'main';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x250 || main(cp)) continue;
    if (fallback(cp)) return 'fallback';
  }
  return 'main';
}

/** cp1252's characters in 0x80-0x9f (the rest of WinAnsi is Latin-1 0x20-0x7e, 0xa0-0xff). */
const CP1252_EXTRA = new Set([...'€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ']);

export function winAnsiOnly(s: string): string {
  let out = '';
  for (const ch of s) {
    const n = ch.codePointAt(0)!;
    out += (n >= 0x20 && n <= 0x7e) || (n >= 0xa0 && n <= 0xff) || CP1252_EXTRA.has(ch) ? ch : '?';
  }
  return out;
}

const MARGIN = 50;
const SIZE = 9.5;

export function renderPdf(m: ReportModel, opts: { now?: Date; fonts?: PdfFonts } = {}): Promise<Buffer> {
  const fonts: PdfFonts = opts.fonts ?? DEJAVU;
  const embedded = fs.existsSync(fonts.regular) && fs.existsSync(fonts.bold);
  const doc = new PDFDocument({
    size: 'A4', margin: MARGIN, bufferPages: true,
    info: { Title: embedded ? m.title : winAnsiOnly(m.title), Author: 'mailproof', Creator: 'mailproof', CreationDate: opts.now ?? new Date() },
    lang: m.lang,
  });
  const R = 'R';
  const B = 'B';
  const F = 'F';
  const mainCoverage = embedded ? coverageOf(fonts.regular) : null;
  const fallback = fonts.fallback ?? FALLBACK;
  const fallbackCoverage = embedded && mainCoverage ? coverageOf(fallback.path, fallback.name) : null;
  if (embedded) {
    doc.registerFont(R, fonts.regular);
    doc.registerFont(B, fonts.bold);
    if (fallbackCoverage) doc.registerFont(F, fallback.path, fallback.name);
  } else {
    doc.registerFont(R, 'Helvetica');
    doc.registerFont(B, 'Helvetica-Bold');
  }
  // Long unbroken values (a 300-character address) need nothing here:
  // pdfkit's line wrapper cuts a word wider than its column, and
  // heightOfString measures it the same way, so table rows stay apart.
  const t = (s: string): string => (embedded ? s : winAnsiOnly(s));
  /** The font for this string: `font`, or the fallback when `font` lacks its glyphs. */
  const f = (s: string, font: string): string => (mainCoverage && pickFont(s, mainCoverage, fallbackCoverage) === 'fallback' ? F : font);
  const chunks: Buffer[] = [];
  doc.on('data', (b: Buffer) => chunks.push(b));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const left = MARGIN;
  const width = doc.page.width - 2 * MARGIN;
  const bottom = (): number => doc.page.height - doc.page.margins.bottom;
  const ensure = (h: number): void => { if (doc.y + h > bottom()) doc.addPage(); };

  const para = (s: string, o: { font?: string; size?: number; indent?: number; gap?: number } = {}): void => {
    doc.font(f(s, o.font ?? R)).fontSize(o.size ?? SIZE);
    const w = width - (o.indent ?? 0);
    ensure(Math.min(doc.heightOfString(t(s), { width: w }), 60));
    doc.text(t(s), left + (o.indent ?? 0), doc.y, { width: w });
    doc.moveDown(o.gap ?? 0.2);
  };
  const heading = (s: string, size: number): void => {
    doc.moveDown(0.5);
    ensure(size * 3);
    para(s, { font: B, size, gap: 0.3 });
  };

  /** A row of columns: [x offset, width, text, font]. Pages break between rows. */
  const row = (cols: Array<[number, number, string, string]>, gap = 2): void => {
    doc.fontSize(SIZE);
    const heights = cols.map(([, w, s, font]) => { doc.font(f(s, font)); return doc.heightOfString(t(s), { width: w }); });
    const h = Math.max(...heights);
    ensure(h);
    const y = doc.y;
    for (const [x, w, s, font] of cols) doc.font(f(s, font)).text(t(s), left + x, y, { width: w });
    doc.x = left;
    doc.y = y + h + gap;
  };
  const fields = (list: Field[], indent = 0): void => {
    for (const f of list) row([[indent, 130, f.label, B], [indent + 135, width - indent - 135, f.value, R]]);
  };
  const causes = (list: CauseBlock[]): void => {
    for (const x of list) {
      para(`${x.title} (${m.labels.side[x.side]}, ${x.code})`, { font: B });
      para(x.what, { indent: 12 });
      para(`${m.labels.action}: ${x.action}`, { indent: 12, gap: 0.5 });
    }
  };
  const forward = (fw: ForwardBlock, size: number): void => {
    ensure(90); // the heading not alone at the foot of a page
    heading(m.labels.forward, size);
    para(m.labels.forward_intro);
    const top = doc.y;
    for (const l of fw.lines) para(l, { indent: 12 });
    // A rule on the left marks the forwardable text (one page's part of it).
    if (doc.y > top) doc.save().moveTo(left + 4, top).lineTo(left + 4, doc.y).lineWidth(1.5).strokeColor('#888').stroke().restore();
  };

  para(m.title, { font: B, size: 18, gap: 0.2 });
  para(`${m.labels.generated}: ${m.generated_at}`, { gap: 0.6 });
  heading(m.labels.question, 13);
  fields(m.question);
  doc.moveDown(0.4);
  para(m.summary, { font: B });
  if (m.findings.length) { heading(m.labels.cause, 13); causes(m.findings); }
  if (m.near_misses.length) { heading(m.labels.near_misses, 13); for (const n of m.near_misses) para(`• ${n}`, { indent: 8 }); }
  if (m.forward) forward(m.forward, 13);
  // A report of a whole search: every message's verdict first, so it reads in a minute.
  if (m.journeys.length > 1) {
    heading(m.labels.contents, 13);
    m.journeys.forEach((j, i) => para(`${i + 1}. ${j.verdict}`, { indent: 8 }));
  }
  m.journeys.forEach((j, i) => {
    if (i > 0 || m.journeys.length > 1) doc.addPage();
    heading(`${m.labels.journey} ${i + 1}`, 14);
    para(j.summary, { font: B, gap: 0.2 });
    para(j.verdict, { gap: 0.4 });
    fields(j.facts);
    heading(m.labels.timeline, 12);
    row([[0, 95, m.labels.time, B], [100, 80, m.labels.node, B], [185, width - 185, m.labels.event, B]], 4);
    for (const r of j.timeline) row([[0, 95, r.time, R], [100, 80, `${r.node} (${r.source})`, R], [185, width - 185, r.text, R]]);
    if (j.causes.length) { heading(m.labels.cause, 12); causes(j.causes); }
    if (j.near_misses.length) { heading(m.labels.near_misses, 12); for (const n of j.near_misses) para(`• ${n}`, { indent: 8 }); }
    if (j.evidence.length) {
      heading(m.labels.evidence, 12);
      for (const e of j.evidence) {
        para(`${e.time} UTC: ${e.title}`, { font: B });
        fields(e.fields, 12);
        doc.moveDown(0.3);
      }
    }
    if (j.forward) forward(j.forward, 12);
  });
  if (m.truncated) para(m.labels.truncated, { font: B });

  // Page numbers: "n / N" at the foot of every page.
  const range = doc.bufferedPageRange();
  for (let p = range.start; p < range.start + range.count; p++) {
    doc.switchToPage(p);
    // Writing into the bottom margin would make pdfkit start a new page.
    doc.page.margins.bottom = 0;
    doc.font(R).fontSize(8).text(`${p + 1} / ${range.count}`, left, doc.page.height - MARGIN + 15, { width, align: 'right', lineBreak: false });
  }
  doc.end();
  return done;
}
