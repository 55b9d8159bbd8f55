// HTML building with escaping by default: every value goes through esc()
// unless it is a Html (markup this module or a view built). Hand-written
// because it is a dozen lines and no template library is installed; the
// rule is simple enough to check by reading: strings are text, Html is markup.

export class Html {
  constructor(readonly s: string) {}
  toString(): string { return this.s; }
}

const MAP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for an element body or a quoted attribute value. Control characters (other than tab/newline) become U+FFFD. */
export function esc(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return s.replace(/[&<>"']/g, (c) => MAP[c]!).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '\ufffd');
}

type Part = Html | string | number | null | undefined | false | Part[];

function render(p: Part): string {
  if (p === null || p === undefined || p === false) return '';
  if (p instanceof Html) return p.s;
  if (Array.isArray(p)) return p.map(render).join('');
  return esc(p);
}

/** Tagged template: literal parts are markup, interpolations are escaped (unless Html). */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** A URL path + query built from parts; each query value is percent-encoded. */
export function href(path: string, query: Record<string, string | undefined | null> = {}): string {
  const q = Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`).join('&');
  return q ? `${path}?${q}` : path;
}
