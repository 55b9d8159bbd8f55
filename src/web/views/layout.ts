// The frame of every page: <html lang>, the header with navigation and the
// language switch, and the one script (local-time.js, same origin, so the
// Content-Security-Policy stays strict).
import type { Lang } from '../../research/explain.js';
import { html, type Html } from '../html.js';
import type { T } from '../i18n/index.js';

export interface PageOptions {
  title: string;
  lang: Lang;
  t: T;
  user?: { name: string; role: string } | null;
  /** CSRF token for the logout form in the header. */
  csrf?: string;
  /** This page in the other language (a GET address); absent = no switch. */
  switchHref?: string | null;
}

export function page(o: PageOptions, body: Html): string {
  const { t } = o;
  const other: Lang = o.lang === 'de' ? 'en' : 'de';
  const role = o.user ? t(o.user.role === 'staff' ? 'nav.role_staff' : 'nav.role_customer') : '';
  const nav = o.user
    ? html`<nav><a href="/">${t('nav.overview')}</a><a href="/search">${t('nav.search')}</a><a href="/diagnostics">${t('nav.diagnostics')}</a></nav>
<span class="who">${o.user.name} (${role})</span>
<form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${o.csrf ?? ''}"><button type="submit" class="link">${t('nav.logout')}</button></form>`
    : html``;
  const sw = o.switchHref ? html`<a class="lang" href="${o.switchHref}" hreflang="${other}" lang="${other}">${t('lang.other')}</a>` : html``;
  return `<!doctype html>
${html`<html lang="${o.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} - mailproof</title><link rel="stylesheet" href="/static/style.css"><script src="/static/local-time.js" defer></script></head>
<body><header><a class="brand" href="/">mailproof</a>${nav}${sw}</header><main>
<h1>${o.title}</h1>
${body}
</main></body></html>`.s}
`;
}

/**
 * Shows every <time datetime> in the browser's own zone and language, and
 * keeps that zone in a cookie so the next page, the CSV export and reports
 * are rendered in it by the server. Hand-written: a dozen lines, no library
 * needed; without it the server's zone (web.time_zone) is shown.
 */
export const LOCAL_TIME_JS = `(function () {
  var tz;
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!tz) return;
  var c = 'mp_tz=' + encodeURIComponent(tz);
  if (document.cookie.split('; ').indexOf(c) < 0) document.cookie = c + '; path=/; max-age=31536000; samesite=strict';
  var locale = document.documentElement.lang === 'de' ? 'de-DE' : 'en-GB';
  var f = {};
  var els = document.querySelectorAll('time[datetime]');
  for (var i = 0; i < els.length; i++) {
    var s = els[i].hasAttribute('data-seconds') ? 's' : 'm';
    var o = { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' };
    if (s === 's') o.second = '2-digit';
    f[s] = f[s] || new Intl.DateTimeFormat(locale, o);
    var d = new Date(els[i].getAttribute('datetime'));
    if (!isNaN(d.getTime())) els[i].textContent = f[s].format(d);
  }
})();
`;
