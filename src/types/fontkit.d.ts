// The part of fontkit (a dependency of pdfkit, with no types of its own) that src/report/pdf.ts uses.
declare module 'fontkit' {
  export interface Font { hasGlyphForCodePoint(codePoint: number): boolean }
  export function openSync(path: string, postscriptName?: string): Font | { fonts: Font[] };
}
