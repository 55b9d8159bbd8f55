// Which language and time zone a page is in. Language: ?lang= (the switch,
// which also sets a cookie), then that cookie, then the browser's
// Accept-Language (RFC 9110 section 12.5.4: the highest q of the tags we
// have), then web.lang. Time zone: the browser's own (a cookie the page's
// small script sets, see static/local-time.js), else web.time_zone, else the
// server's.
import type { Lang } from '../research/explain.js';

export const LANG_COOKIE = 'mp_lang';
export const TZ_COOKIE = 'mp_tz';

export function isLang(v: unknown): v is Lang {
  return v === 'de' || v === 'en';
}

/** The best of de/en in an Accept-Language header, or null when it names neither. */
export function acceptLanguage(header: string | undefined): Lang | null {
  if (!header) return null;
  let best: { lang: Lang; q: number } | null = null;
  for (const part of header.slice(0, 512).split(',')) {
    const [tag, ...params] = part.trim().split(';');
    const primary = tag!.trim().toLowerCase().split('-')[0];
    if (!isLang(primary)) continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (q > 0 && (!best || q > best.q)) best = { lang: primary, q };
  }
  return best?.lang ?? null;
}

export function negotiateLang(o: { query?: string; cookie?: string; acceptLanguage?: string; fallback: Lang }): Lang {
  if (isLang(o.query)) return o.query;
  if (isLang(o.cookie)) return o.cookie;
  return acceptLanguage(o.acceptLanguage) ?? o.fallback;
}

/** An IANA zone Intl knows; anything else (a forged cookie) is ignored. */
export function validTimeZone(z: string | undefined | null): z is string {
  if (!z || z.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(z)) return false;
  try { new Intl.DateTimeFormat('en', { timeZone: z }); return true; } catch { return false; }
}

export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
