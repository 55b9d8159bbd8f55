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

export interface PageOptions {
  title: string;
  user?: { name: string; role: string } | null;
  /** CSRF token for the logout form in the header. */
  csrf?: string;
  lang?: string;
}

export function page(o: PageOptions, body: Html): string {
  const nav = o.user
    ? html`<nav><a href="/">Search</a> <a href="/diagnostics">Diagnostics</a>
<span class="who">${o.user.name} (${o.user.role})</span>
<form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${o.csrf ?? ''}"><button type="submit">Log out</button></form></nav>`
    : html``;
  return `<!doctype html>
${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} - mailproof</title><link rel="stylesheet" href="/static/style.css"></head>
<body><header><span class="brand">mailproof</span>${nav}</header><main>
<h1>${o.title}</h1>
${body}
</main></body></html>`.s}
`;
}

export const CSS = `
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #234; color: #fff; padding: .5em 1em; display: flex; gap: 1em; align-items: center; }
header a { color: #fff; margin-right: 1em; }
header .brand { font-weight: bold; }
header nav { display: flex; gap: .5em; align-items: center; flex: 1; }
header .who { margin-left: auto; }
main { padding: 1em 2em; max-width: 80em; }
form.inline { display: inline; }
form.search { display: grid; grid-template-columns: repeat(auto-fill, minmax(16em, 1fr)); gap: .5em 1em; margin-bottom: 1em; }
form.search label, form.login label { display: flex; flex-direction: column; font-size: .9em; }
form.login { display: flex; flex-direction: column; gap: .5em; max-width: 20em; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; background: #fff; }
th, td { border: 1px solid #ccc; padding: .3em .5em; text-align: left; vertical-align: top; font-size: .9em; }
td.text, pre { white-space: pre-wrap; word-break: break-word; }
tr.evidence { background: #fff3c4; }
.outcome-delivered { color: #060; font-weight: bold; }
.outcome-rejected { color: #a00; font-weight: bold; }
.outcome-tempfailed { color: #a60; font-weight: bold; }
.notice { border-left: 4px solid #a60; background: #fff8e6; padding: .5em 1em; margin: .5em 0; }
.finding { border-left: 4px solid #357; background: #fff; padding: .5em 1em; margin: .5em 0; }
.finding.side-sender { border-color: #a00; }
.finding.side-recipient { border-color: #a60; }
.error { color: #a00; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.muted { color: #666; }
`;
