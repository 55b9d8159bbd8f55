import { reportRefusal } from './refusal.js';
import type { Lang } from '../research/explain.js';
import type { SearchFilter, SearchResult } from '../research/search.js';
import { renderHtml } from './html.js';
import { buildModel } from './model.js';
import { renderPdf } from './pdf.js';
import { renderText } from './text.js';

// The customer report (docs/design.md "Command line contract": mailproof report):
// a SearchResult (research/search.ts) as a document in German or English.
// The CLI (cli/report.ts) and the web UI both call renderReport.

export type ReportFormat = 'text' | 'html' | 'pdf';
export const REPORT_FORMATS: readonly ReportFormat[] = ['text', 'html', 'pdf'];

export interface RenderOptions {
  lang: Lang;
  format: ReportFormat;
  /** The report's "generated" time; tests pin it. */
  now?: Date;
  /** The search as asked, shown in the report's "Search" block; without it only the time window is shown. */
  filter?: SearchFilter;
}

export interface RenderedReport {
  body: Buffer;
  contentType: string;
  filename: string;
}

const TYPES: Record<ReportFormat, { type: string; ext: string }> = {
  text: { type: 'text/plain; charset=utf-8', ext: 'txt' },
  html: { type: 'text/html; charset=utf-8', ext: 'html' },
  pdf: { type: 'application/pdf', ext: 'pdf' },
};

/** A file name that is safe in a Content-Disposition header and on any file system: the one REF, else the date. */
export function reportFilename(result: SearchResult, format: ReportFormat, now: Date): string {
  const refs = [...new Set(result.journeys.map((j) => j.ref))];
  const ref = refs.length === 1 ? refs[0]!.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40) : '';
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  return `mailproof-report-${ref || stamp}.${TYPES[format].ext}`;
}

export async function renderReport(result: SearchResult, opts: RenderOptions): Promise<RenderedReport> {
  const refusal = reportRefusal(result, opts.lang);
  if (refusal) throw new Error(refusal);
  const now = opts.now ?? new Date();
  const model = buildModel(result, { lang: opts.lang, now, filter: opts.filter });
  let body: Buffer;
  switch (opts.format) {
    case 'text': body = Buffer.from(renderText(model), 'utf8'); break;
    case 'html': body = Buffer.from(renderHtml(model), 'utf8'); break;
    case 'pdf': body = await renderPdf(model, { now }); break;
    default: throw new Error(`unknown report format ${JSON.stringify(opts.format)}`);
  }
  return { body, contentType: TYPES[opts.format].type, filename: reportFilename(result, opts.format, now) };
}

export { buildModel } from './model.js';
export { reportRefusal } from './refusal.js';
export type { ReportModel } from './model.js';
