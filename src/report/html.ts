import type { CauseBlock, Field, ForwardBlock, ReportModel } from './model.js';

// One self-contained HTML document: inline CSS, no scripts, no external
// resources (it is mailed or saved as a file and must look the same offline).
// Every value goes through escapeHtml; the Content-Security-Policy forbids
// scripts as a second line should an escape ever be missed. Long addresses
// wrap (overflow-wrap: anywhere) instead of widening the page.

/** Escapes text for element content and double-quoted attribute values (hand-written: five characters; no HTML library is installed). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

const e = escapeHtml;

const CSS = `
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;font-size:14px;line-height:1.45;color:#1a1a1a;max-width:60em;margin:2em auto;padding:0 1em;overflow-wrap:anywhere;word-break:break-word}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.25em;margin:1.6em 0 .4em;border-bottom:2px solid #444;padding-bottom:.2em}
h3{font-size:1.05em;margin:1.2em 0 .3em}
.meta{color:#555}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th,td{text-align:left;vertical-align:top;padding:.25em .5em;border-bottom:1px solid #ddd}
table.facts th{width:14em;font-weight:600}
table.timeline th.t{width:10.5em}table.timeline th.n{width:9em}
.cause{border-left:4px solid #888;padding:.3em .8em;margin:.6em 0;background:#f6f6f6}
.cause.sender{border-color:#c0392b}.cause.recipient{border-color:#d68910}.cause.none{border-color:#27ae60}
.cause .title{font-weight:600}
.evidence{margin:.5em 0 .8em}.evidence .head{font-weight:600}
.evidence dl{margin:.2em 0 0 1.5em;display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em}
.evidence dt{color:#555}.evidence dd{margin:0;font-family:"DejaVu Sans Mono",monospace;font-size:.92em}
.forward{border:1px dashed #666;padding:.6em 1em;background:#fffdf0}
.forward p{margin:.3em 0}
code{font-family:"DejaVu Sans Mono",monospace}
`.trim();

function facts(list: Field[], cls = 'facts'): string {
  return `<table class="${cls}">${list.map((f) => `<tr><th scope="row">${e(f.label)}</th><td>${e(f.value)}</td></tr>`).join('')}</table>`;
}

function causes(list: CauseBlock[], m: ReportModel): string {
  return list.map((x) => `<div class="cause ${e(x.side)}"><div class="title">${e(x.title)} <span class="meta">(${e(m.labels.side[x.side])}, <code>${e(x.code)}</code>)</span></div>`
    + `<p>${e(x.what)}</p><p><strong>${e(m.labels.action)}:</strong> ${e(x.action)}</p></div>`).join('');
}

function forward(fw: ForwardBlock, m: ReportModel, level: 'h2' | 'h3'): string {
  return `<${level}>${e(m.labels.forward)}</${level}><p class="meta">${e(m.labels.forward_intro)}</p>`
    + `<div class="forward">${fw.lines.map((l) => `<p>${e(l)}</p>`).join('')}</div>`;
}

function list(items: string[]): string {
  return `<ul>${items.map((n) => `<li>${e(n)}</li>`).join('')}</ul>`;
}

export function renderHtml(m: ReportModel): string {
  const parts: string[] = [];
  parts.push(`<!DOCTYPE html><html lang="${e(m.lang)}"><head><meta charset="utf-8">`
    + `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`
    + `<meta name="viewport" content="width=device-width, initial-scale=1">`
    + `<title>${e(m.title)}</title><style>${CSS}</style></head><body>`);
  parts.push(`<h1>${e(m.title)}</h1><p class="meta">${e(m.labels.generated)}: ${e(m.generated_at)}</p>`);
  parts.push(`<h2>${e(m.labels.question)}</h2>${facts(m.question)}<p><strong>${e(m.summary)}</strong></p>`);
  if (m.findings.length) parts.push(`<h2>${e(m.labels.cause)}</h2>${causes(m.findings, m)}`);
  if (m.near_misses.length) parts.push(`<h2>${e(m.labels.near_misses)}</h2>${list(m.near_misses)}`);
  if (m.forward) parts.push(forward(m.forward, m, 'h2'));
  // A report of a whole search: every message's verdict first, so it reads in a minute.
  if (m.journeys.length > 1) parts.push(`<h2>${e(m.labels.contents)}</h2><ol>${m.journeys.map((j, i) => `<li><a href="#m${i + 1}">${e(j.verdict)}</a></li>`).join('')}</ol>`);
  m.journeys.forEach((j, i) => {
    parts.push(`<section id="m${i + 1}"><h2>${e(m.labels.journey)} ${i + 1}</h2><p><strong>${e(j.summary)}</strong></p><p class="verdict">${e(j.verdict)}</p>${facts(j.facts)}`);
    parts.push(`<h3>${e(m.labels.timeline)}</h3><table class="timeline"><thead><tr><th class="t">${e(m.labels.time)}</th><th class="n">${e(m.labels.node)}</th><th>${e(m.labels.event)}</th></tr></thead><tbody>`
      + j.timeline.map((r) => `<tr><td>${e(r.time)}</td><td>${e(r.node)}<br><span class="meta">${e(r.source)}</span></td><td>${e(r.text)}</td></tr>`).join('')
      + '</tbody></table>');
    if (j.causes.length) parts.push(`<h3>${e(m.labels.cause)}</h3>${causes(j.causes, m)}`);
    if (j.near_misses.length) parts.push(`<h3>${e(m.labels.near_misses)}</h3>${list(j.near_misses)}`);
    if (j.evidence.length) {
      parts.push(`<h3>${e(m.labels.evidence)}</h3>` + j.evidence.map((x) => `<div class="evidence"><div class="head">${e(x.time)} UTC: ${e(x.title)}</div>`
        + (x.fields.length ? `<dl>${x.fields.map((f) => `<dt>${e(f.label)}</dt><dd>${e(f.value)}</dd>`).join('')}</dl>` : '') + '</div>').join(''));
    }
    if (j.forward) parts.push(forward(j.forward, m, 'h3'));
    parts.push('</section>');
  });
  if (m.truncated) parts.push(`<p><strong>${e(m.labels.truncated)}</strong></p>`);
  parts.push('</body></html>\n');
  return parts.join('\n');
}
