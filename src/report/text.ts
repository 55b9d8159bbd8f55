import type { CauseBlock, Field, ForwardBlock, ReportModel } from './model.js';
import { wrap } from './safe.js';

// The plain-text report (for a mail body or a ticket). Layout rule: every
// value is wrapped with a hanging indent deeper than the label it belongs to,
// so no value, however long, starts a line at a label's column; and the model
// has already turned CR, LF and the other line breakers into visible escapes
// (report/safe.ts), so no client-sent value can forge a line.

const WIDTH = 78;

function block(first: string, rest: string, text: string, width = WIDTH): string[] {
  const lines = wrap(text, width - rest.length);
  return lines.map((l, i) => (i === 0 ? first : rest) + l);
}

function field(f: Field, indent: string, labelWidth: number): string[] {
  const head = `${indent}${(f.label + ':').padEnd(labelWidth)} `;
  const cont = ' '.repeat(head.length);
  return block(head, cont, f.value);
}

function fields(list: Field[], indent: string): string[] {
  const lw = Math.min(26, Math.max(...list.map((f) => Array.from(f.label).length + 1)));
  return list.flatMap((f) => field(f, indent, lw));
}

function heading(text: string, ch: string, indent = ''): string[] {
  return [indent + text, indent + ch.repeat(Math.min(WIDTH - indent.length, Array.from(text).length))];
}

function causes(list: CauseBlock[], m: ReportModel, indent: string): string[] {
  const out: string[] = [];
  for (const x of list) {
    out.push(...block(`${indent}* `, `${indent}  `, `${x.title} (${m.labels.side[x.side]}, ${x.code})`));
    out.push(...block(`${indent}  `, `${indent}  `, x.what));
    out.push(...block(`${indent}  `, `${indent}  `, `${m.labels.action}: ${x.action}`));
  }
  return out;
}

function forward(fw: ForwardBlock, m: ReportModel, indent: string): string[] {
  const out = [...heading(m.labels.forward, '-', indent), ...block(indent, indent, m.labels.forward_intro), ''];
  // The forwardable text is quoted ("| ") so it is clear where it starts and ends.
  for (const l of fw.lines) out.push(...block(`${indent}| `, `${indent}|   `, l));
  return out;
}

export function renderText(m: ReportModel): string {
  const out: string[] = [...heading(m.title, '='), `${m.labels.generated}: ${m.generated_at}`, ''];
  out.push(...heading(m.labels.question, '-'), ...fields(m.question, '  '), '');
  out.push(...block('', '', m.summary), '');
  if (m.findings.length) out.push(...heading(m.labels.cause, '-'), ...causes(m.findings, m, '  '), '');
  if (m.near_misses.length) out.push(...heading(m.labels.near_misses, '-'), ...m.near_misses.flatMap((n) => block('  - ', '    ', n)), '');
  if (m.forward) out.push(...forward(m.forward, m, ''), '');
  // A report of a whole search: every message's verdict first, so it reads in a minute.
  if (m.journeys.length > 1) out.push(...heading(m.labels.contents, '-'), ...m.journeys.flatMap((j, i) => block(`  ${i + 1}. `, '     ', j.verdict)), '');
  m.journeys.forEach((j, i) => {
    // The summary holds client-sent addresses: its continuation lines are
    // indented so no part of it can stand at a heading's column.
    out.push(...heading(`${m.labels.journey} ${i + 1}`, '='), ...block('', '  ', j.summary), ...block('', '  ', j.verdict), '');
    out.push(...fields(j.facts, '  '), '');
    out.push(...heading(m.labels.timeline, '-', '  '));
    for (const r of j.timeline) {
      const head = `  ${r.time}  `;
      out.push(...block(head, ' '.repeat(head.length), `${r.text} [${r.node}, ${r.source}]`));
    }
    out.push('');
    if (j.causes.length) out.push(...heading(m.labels.cause, '-', '  '), ...causes(j.causes, m, '  '), '');
    if (j.near_misses.length) out.push(...heading(m.labels.near_misses, '-', '  '), ...j.near_misses.flatMap((n) => block('  - ', '    ', n)), '');
    if (j.evidence.length) {
      out.push(...heading(m.labels.evidence, '-', '  '));
      for (const e of j.evidence) {
        out.push(...block(`  ${e.time}  `, '                       ', e.title));
        if (e.fields.length) out.push(...fields(e.fields, '        '));
      }
      out.push('');
    }
    if (j.forward) out.push(...forward(j.forward, m, '  '), '');
  });
  if (m.truncated) out.push(...block('', '', m.labels.truncated), '');
  return out.map((l) => l.replace(/\s+$/, '')).join('\n').replace(/\n{3,}/g, '\n\n').replace(/\n*$/, '\n');
}
