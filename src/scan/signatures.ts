// What clamd's answer to VERSION says about the signatures it scans with.
//
// clamd answers "ClamAV <engine>/<database version>/<database date>" when it
// loaded the official ClamAV database (main and daily, .cvd or .cld, as
// freshclam fetches them), and "ClamAV <engine>" alone when it did not: then
// it knows only the unofficial files in its DatabaseDirectory (.ndb, .ldb
// ...), such as the project's test signatures (test/fixtures/clamav). Seen
// with clamd 1.4.6: with only those two files it answers "ClamAV 1.4.6".
// Such a clamd answers PING and scans every message, and finds next to
// nothing: a gateway must say so loudly instead of looking protected, and
// asking clamd (not trusting our own setup) also catches a production clamd
// whose DatabaseDirectory is wrong or was never filled by freshclam.

export type SignatureState =
  /** The official database is loaded: its daily version and date as clamd gives them. */
  | { kind: 'official'; engine: string; version: number; date: string }
  /** No official database: only unofficial (custom or test) signatures, if any. */
  | { kind: 'unofficial_only'; engine: string }
  /** No answer, or one we do not understand: no judgement. */
  | { kind: 'unknown' };

/** The words `mailproof status` and the start-up warning use. */
export const TEST_SIGNATURES_ONLY = 'test signatures only: not protecting anyone';

/** Judges clamd's VERSION reply (without its NUL); null when clamd did not answer. */
export function judgeClamdVersion(raw: string | null): SignatureState {
  if (raw === null) return { kind: 'unknown' };
  const m = /^ClamAV ([0-9][0-9A-Za-z.~+-]*)(?:\/(\d+)\/(.+))?$/.exec(raw.trim());
  if (!m) return { kind: 'unknown' };
  const engine = m[1]!;
  if (m[2] === undefined) return { kind: 'unofficial_only', engine };
  const version = Number(m[2]);
  // clamd prints a database version of 0 as no version at all; a 0 here is not one we know.
  if (!(version > 0)) return { kind: 'unknown' };
  return { kind: 'official', engine, version, date: m[3]!.trim() };
}

/**
 * The standing warning for a clamd (where: "unix:/run/clamav/clamd.ctl"),
 * or null when its signatures are the official ones or unknown. ASCII only.
 */
export function signatureWarning(state: SignatureState, where: string): string | null {
  if (state.kind !== 'unofficial_only') return null;
  return `${TEST_SIGNATURES_ONLY}: clamd ${state.engine} at ${where} has no ClamAV signature database loaded `
    + '(its VERSION names none), only custom or test signatures; fetch the real ones with freshclam';
}
