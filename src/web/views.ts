// The pages. Every value from the ledger is attacker-controlled (HELO names,
// addresses, subjects, file names, reply texts): it reaches HTML only through
// html`` interpolation, which escapes.
import type { StoreLag } from '../ledger/store/types.js';
import type { DomainDiagnosis, IpDiagnosis } from '../dnscheck/diagnostics.js';
import type { Finding } from '../research/explain.js';
import type { NearMiss } from '../research/journeys.js';
import { clientPtrOf, describeEvent } from '../research/event-words.js';
import type { ExplainedJourney, SearchResult } from '../research/search.js';
import type { PublicView } from '../research/service.js';
import { Html, href, html } from './html.js';

export const SEARCH_FIELDS = [
  ['rcpt', 'Recipient'], ['domain', 'Recipient domain'], ['from', 'Sender (address or domain)'], ['ip', 'Client IP'],
  ['ref', 'REF'], ['message-id', 'Message-ID'], ['since', 'Since (date or age: 24h, 7d)'], ['until', 'Until'],
] as const;

export function langSelect(lang: string): Html {
  return html`<label>Language of explanations<select name="lang">
<option value="en"${lang === 'en' ? new Html(' selected') : ''}>English</option>
<option value="de"${lang === 'de' ? new Html(' selected') : ''}>Deutsch</option></select></label>`;
}

export function loginForm(csrf: string, error: string | null): Html {
  return html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/login" class="login">
<input type="hidden" name="_csrf" value="${csrf}">
<label>Account<input name="name" autocomplete="username" required maxlength="64"></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
<button type="submit">Log in</button></form>`;
}

export function searchForm(q: Record<string, string>, lang: string, scope: readonly string[] | null): Html {
  const outcome = q.outcome ?? '';
  return html`${scope ? html`<p class="muted">Your account sees mail for: ${scope.join(', ')}</p>` : ''}
<form method="get" action="/search" class="search">
${SEARCH_FIELDS.map(([k, label]) => html`<label>${label}<input name="${k}" value="${q[k] ?? ''}" maxlength="320"></label>`)}
<label>Outcome<select name="outcome">
${['', 'delivered', 'rejected', 'tempfailed', 'incomplete', 'no_transaction'].map((o) => html`<option value="${o}"${o === outcome ? new Html(' selected') : ''}>${o || 'any'}</option>`)}
</select></label>
${langSelect(lang)}
<div><button type="submit">Search</button></div></form>`;
}

function outcomeCell(o: string): Html {
  return html`<span class="outcome-${o}">${o}</span>`;
}

function findingBlock(f: Omit<Finding, 'evidence'> & { evidence?: number[] }): Html {
  return html`<div class="finding side-${f.side}"><strong>${f.title}</strong> <span class="muted">(${f.code}; whose side: ${f.side})</span>
<p class="what">${f.what}</p><p class="action"><em>What to do:</em> ${f.action}</p>
${f.evidence?.length ? html`<p class="muted">Proved by events ${f.evidence.map((id, i) => html`${i ? ', ' : ''}<a href="#e${id}">#${id}</a>`)}</p>` : ''}</div>`;
}

function nearMisses(list: NearMiss[]): Html {
  if (!list.length) return html``;
  // research/near-misses.ts says what each is; the likely typo comes first.
  return html`<h2>Near misses</h2><ul>${list.map((n) => html`<li>${n.what ?? n.value}${n.kind === 'refused_similar_address' ? html` (<code>${n.value}</code>${n.ref ? html`, REF ${n.ref}` : ''})` : ''}</li>`)}</ul>`;
}

/** Page sizes of the search page: the first answer is small and quick, more on request (the API's maximum last). */
export const PAGE_SIZES = [100, 250, 1000] as const;

/**
 * `query`: the search as asked, for the links to a bigger page. A bigger
 * page rather than "older" pages: research keeps the newest N transactions,
 * and a transaction's journeys and hits spread over time, so a time cursor
 * could skip a journey at the boundary.
 */
/** Said plainly when the store had not taken in everything the journals held when the question came. */
export function lagNotice(lag: StoreLag[], lang: string): Html {
  if (lag.length === 0) return html``;
  const de = lang === 'de';
  const secs = (ms: number): number => Math.round(ms / 1000);
  return html`<p class="notice">${lag.map((l) => l.silent_ms !== undefined
    ? (de
      ? `Der Server ${l.node} (${l.stream}) hat sich seit ${secs(l.silent_ms)} s nicht gemeldet: seine neuesten Ereignisse können in dieser Antwort fehlen.`
      : `Server ${l.node} (${l.stream}) has not reported for ${secs(l.silent_ms)} s: its newest events may be missing from this answer.`)
    : (de
      ? `Der Datenbestand ist noch nicht vollständig: ${l.events} Ereignis(se) vom Server ${l.node} (${l.stream}) fehlen in dieser Antwort noch. Bitte in einigen Sekunden erneut suchen.`
      : `The store is not complete yet: ${l.events} event(s) from server ${l.node} (${l.stream}) are missing from this answer. Please search again in a few seconds.`)).join(' ')}</p>`;
}

export function results(r: SearchResult, lang: string, query?: { q: Record<string, string>; limit: number }): Html {
  const bigger = query && r.truncated ? PAGE_SIZES.filter((n) => n > query.limit) : [];
  const more = r.truncated
    ? bigger.length
      ? html` (the newest; show up to ${bigger.map((n, i) => html`${i ? ' or ' : ''}<a href="${href('/search', { ...query!.q, limit: String(n) })}">${String(n)}</a>`)}, or narrow the search)`
      : ' (more than shown: narrow the search, e.g. the time window)'
    : '';
  return html`${lagNotice(r.store_behind ?? [], lang)}${r.findings.map((f) => findingBlock(f))}
${nearMisses(r.near_misses)}
<p class="count">${r.journeys.length} journeys${more}, ${r.since ?? 'any time'} to ${r.until ?? 'now'}.</p>
${r.journeys.length ? html`<table class="journeys"><thead><tr><th>Time</th><th>REF</th><th>Outcome</th><th>From</th><th>To</th><th>Client IP</th><th>Diagnosis</th></tr></thead><tbody>
${[...r.journeys].reverse().map((j) => html`<tr><td>${j.started_at}</td><td><a href="${href(`/journey/${encodeURIComponent(j.ref)}`, { rcpt: j.rcpt, lang })}">${j.ref}</a></td>
<td>${outcomeCell(j.outcome)}</td><td class="text">${j.mail_from === '' ? '<>' : j.mail_from ?? ''}</td><td class="text">${j.rcpt}</td><td>${j.client_ip ?? ''}</td><td>${j.diagnosis.join(', ')}</td></tr>`)}
</tbody></table>` : html`<p>No journeys found.</p>`}`;
}

export interface RecheckView {
  domain: { name: string; result: DomainDiagnosis | null; error: string | null } | null;
  ip: { addr: string; result: IpDiagnosis | null; error: string | null } | null;
}

export function journeyView(j: ExplainedJourney, o: { lang: string; csrf: string; recheck: RecheckView | null; reportFormats: boolean }): Html {
  const evidence = new Set(j.explanations.flatMap((f) => f.evidence));
  const self = `/journey/${encodeURIComponent(j.ref)}`;
  // The timeline in research's words (as in the report), in the page's language; reply and verdict have columns of their own.
  const lang = o.lang === 'de' ? 'de' : 'en';
  const ptr = clientPtrOf(j.events);
  const subject = j.events.find((e) => e.kind === 'data.received' && typeof e.details?.subject === 'string')?.details?.subject as string | undefined;
  return html`<table class="facts"><tbody>
<tr><th>REF</th><td>${j.ref}</td></tr><tr><th>Outcome</th><td>${outcomeCell(j.outcome)}</td></tr>
<tr><th>Started</th><td>${j.started_at}</td></tr><tr><th>Node</th><td>${j.node} (${j.source})</td></tr>
<tr><th>Client</th><td>${j.client_ip ?? 'unknown'}${j.helo !== null ? html`, HELO <code>${j.helo}</code>` : ''}</td></tr>
<tr><th>From</th><td class="text">${j.mail_from === '' ? '<>' : j.mail_from ?? ''}</td></tr><tr><th>To</th><td class="text">${j.rcpt}</td></tr>
<tr><th>Message-ID</th><td class="text">${j.message_id ?? ''}</td></tr>${subject !== undefined ? html`<tr><th>Subject</th><td class="text">${subject}</td></tr>` : ''}<tr><th>Reply</th><td class="text">${j.reply ?? ''}</td></tr>
</tbody></table>
<form method="get" action="${self}" class="inline"><input type="hidden" name="rcpt" value="${j.rcpt}">${langSelect(o.lang)} <button type="submit">Switch</button></form>
<h2>Explanation</h2>
${j.explanations.length ? j.explanations.map(findingBlock) : html`<p>No diagnosis (the transaction did not finish).</p>`}
${nearMisses(j.near_misses)}
${j.access.length ? html`<h2>Mailbox access</h2><ul>${j.access.map((a) => html`<li>${a.at}: ${a.kind} from ${a.client_ip ?? 'unknown address'} (${a.source})</li>`)}</ul>` : ''}
<h2>Report</h2>
<p>${['pdf', 'html', 'text'].map((f) => html`<a class="report" download href="${href(`${self}/report`, { rcpt: j.rcpt, lang: o.lang, format: f })}">Download report (${f.toUpperCase()})</a> `)}
${o.reportFormats ? '' : html`<span class="muted">(reports are not available on this server)</span>`}</p>
<h2>Timeline</h2>
<table class="timeline"><thead><tr><th>#</th><th>Time</th><th>Node</th><th>Source</th><th>Event</th><th>Verdict</th><th>Reply</th></tr></thead><tbody>
${j.events.map((e) => html`<tr id="e${e.id}"${evidence.has(e.id) ? new Html(' class="evidence"') : ''}><td>${e.id}</td><td>${new Date(e.ts).toISOString()}</td><td>${e.node}</td><td>${e.source}</td>
<td class="text">${describeEvent(e, lang, { reply: false, ptr })}${e.details && Object.keys(e.details).length ? html`<details><summary>details</summary><pre>${JSON.stringify(e.details, null, 2)}</pre></details>` : ''}</td>
<td>${e.verdict ?? ''}</td><td class="text">${e.smtp_code ? `${e.smtp_code} ` : ''}${e.reply ?? ''}</td></tr>`)}
</tbody></table>
<h2>Recheck now</h2>
<p>Runs the gateway's own DNS checks on the sender domain and the client address now, to compare with what was recorded above.</p>
<form method="post" action="${href(`${self}/recheck`, { rcpt: j.rcpt, lang: o.lang })}"><input type="hidden" name="_csrf" value="${o.csrf}"><button type="submit">Recheck now</button></form>
${o.recheck ? html`<div class="columns">${o.recheck.domain ? domainResult(o.recheck.domain.name, o.recheck.domain.result, o.recheck.domain.error) : html`<p>No sender domain to check.</p>`}
${o.recheck.ip ? ipResult(o.recheck.ip.addr, o.recheck.ip.result, o.recheck.ip.error) : html`<p>No client address to check.</p>`}</div>` : ''}`;
}

function problems(list: { severity: string; code: string; text: string }[]): Html {
  return list.length ? html`<ul>${list.map((p) => html`<li class="${p.severity === 'error' ? 'error' : ''}">${p.severity.toUpperCase()} ${p.code}: ${p.text}</li>`)}</ul>` : html`<p>No problems found.</p>`;
}

function checksTable(checks: { check: string; verdict: string; reason: string | null; reply: string | null }[]): Html {
  return html`<table><thead><tr><th>Check</th><th>Verdict now</th><th>Reason</th><th>The gateway would answer</th></tr></thead><tbody>
${checks.map((c) => html`<tr><td>${c.check}</td><td>${c.verdict}</td><td class="text">${c.reason ?? ''}</td><td class="text">${c.reply ?? ''}</td></tr>`)}</tbody></table>`;
}

export function domainResult(name: string, r: DomainDiagnosis | null, error: string | null): Html {
  if (!r) return html`<section><h3>Domain ${name}</h3><p class="error">${error ?? 'failed'}</p></section>`;
  return html`<section class="diag-domain"><h3>Domain ${r.domain}</h3><p class="muted">checked ${r.checked_at}</p>
<p>MX: ${r.mx.length ? '' : 'none'}</p>${r.mx.length ? html`<ul>${r.mx.map((m) => html`<li>${m.preference} <code>${m.exchange}</code> ${m.is_ip ? '(an IP address, not a host name)' : m.addresses.join(', ') || '(no address)'}</li>`)}</ul>` : ''}
<p>SPF: <code>${r.spf.record ?? 'none'}</code></p><p>DMARC: <code>${r.dmarc.record ?? 'none'}</code></p>
${checksTable(r.checks)}${problems(r.problems)}</section>`;
}

export function ipResult(addr: string, r: IpDiagnosis | null, error: string | null): Html {
  if (!r) return html`<section><h3>Address ${addr}</h3><p class="error">${error ?? 'failed'}</p></section>`;
  return html`<section class="diag-ip"><h3>Address ${r.ip}</h3><p class="muted">checked ${r.checked_at}</p>
<p>PTR (forward-confirmed): <code>${r.ptr ?? 'none'}</code></p>${checksTable(r.checks)}${problems(r.problems)}</section>`;
}

export function diagnosticsForm(q: { domain?: string; ip?: string }): Html {
  return html`<form method="get" action="/diagnostics" class="search">
<label>Sender domain<input name="domain" value="${q.domain ?? ''}" maxlength="253"></label>
<label>IP address<input name="ip" value="${q.ip ?? ''}" maxlength="64"></label>
<div><button type="submit">Check now</button></div></form>`;
}

export function publicPage(v: PublicView, lang: string): Html {
  const de = lang === 'de';
  return html`<p>${de ? 'Referenz' : 'Reference'} <code>${v.ref}</code></p>
<table class="facts"><tbody><tr><th>${de ? 'Zeit' : 'Time'}</th><td>${v.at}</td></tr>
<tr><th>${de ? 'Sendender Server' : 'Sending server'}</th><td>${v.client_ip ?? (de ? 'unbekannt' : 'unknown')}</td></tr>
<tr><th>${de ? 'Ergebnis' : 'Outcome'}</th><td>${outcomeCell(v.outcome)}</td></tr>
${v.replies.map((r) => html`<tr><th>${de ? 'Antwort unseres Servers' : 'Our server answered'}</th><td class="text">${r}</td></tr>`)}</tbody></table>
${v.explanations.map((x) => html`<div class="finding"><strong>${x.title}</strong><p class="what">${x.what}</p><p class="action"><em>${de ? 'Was zu tun ist' : 'How to fix it'}:</em> ${x.action}</p></div>`)}
<p><a href="?lang=${de ? 'en' : 'de'}">${de ? 'English' : 'Deutsch'}</a></p>`;
}
