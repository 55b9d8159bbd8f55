// Reading a list of fields that a daemon wrote in a fixed order, when some
// values are chosen by a remote client and may contain the very text that
// separates the fields (a HELO of "x> to=<carl@b.test", a Message-ID of
// "a>, size=1"). A search for a separator from either end then lands inside
// such a value and reads fields that were never logged.
//
// Instead every way the text can be split into the format is counted (values
// end only where the format allows, each value must fit its own syntax); one
// reading is taken, two or more mean the line is ambiguous and is refused,
// never guessed. Counting stops at two, and a line with too many places where
// a field could start is refused too, so a hostile line costs little.

/** One field: the literal text that opens it (separator and key), its closing text, and what its value may be. */
export interface FieldSpec {
  /** Name in the result. */
  key: string;
  /** Text before the value, e.g. " from=<" or ", relay=". */
  open: string;
  /** Text after the value, e.g. ">"; '' when the value ends where the next field (or the text) does. */
  close: string;
  /** The value's syntax; any text when absent. */
  value?: RegExp;
  /** Always written (a split without it is no reading). */
  required?: boolean;
  /** A character the value never holds (',' in a number): the value ends before it, which spares trying later ends. */
  stop?: string;
}

export type Fields = Record<string, string | null>;

/** How a text read: exactly one way (fields), no way, or more than one way (ambiguous). */
export type Reading = { ok: true; fields: Fields } | { ok: false; reason: 'no reading' | 'ambiguous' };

/** Beyond this many places where a field could start, a line is refused rather than searched (no real line comes close). */
const MAX_STARTS = 64;

interface Found { n: number; fields: Fields | null }

/** A state's count, and the first reading's step from it: the value (null: field absent) and where the next field starts. */
interface Step { n: number; value: string | null; next: number }

/**
 * Counts the readings of s[from, to) as the fields of `specs`, in that order,
 * each optional unless required. Returns the one reading, or why there is none.
 */
export function readFields(s: string, from: number, to: number, specs: readonly FieldSpec[]): Reading {
  const r = countFields(s, from, to, specs);
  if (r === null) return { ok: false, reason: 'ambiguous' };
  if (r.n === 0) return { ok: false, reason: 'no reading' };
  if (r.n > 1) return { ok: false, reason: 'ambiguous' };
  return { ok: true, fields: r.fields! };
}

/**
 * The counting behind readFields, for callers that sum readings over several
 * candidate starts or ends: n is 0, 1 or 2 (two meaning "two or more"); null
 * when the line has too many candidate field starts to search.
 */
export function countFields(s: string, from: number, to: number, specs: readonly FieldSpec[]): Found | null {
  // Every position where some field's opening text occurs, plus the end: a
  // value can only end right before one of these.
  const starts = new Set<number>([to]);
  for (const sp of specs) {
    let i = s.indexOf(sp.open, from);
    while (i >= 0 && i < to) {
      starts.add(i);
      if (starts.size > MAX_STARTS) return null;
      i = s.indexOf(sp.open, i + 1);
    }
  }
  const ends = [...starts].sort((a, b) => a - b);
  // Memoized by (field index, position): each state is counted once, so a
  // line costs at most fields x candidate starts x candidate ends.
  const memo = new Map<number, Step>();

  const walk = (k: number, pos: number): number => {
    if (k === specs.length) return pos === to ? 1 : 0;
    const key = k * (to + 1) + pos;
    const hit = memo.get(key);
    if (hit) return hit.n;
    const sp = specs[k]!;
    const step: Step = { n: 0, value: null, next: pos };
    const add = (n: number, value: string | null, next: number): void => {
      if (n === 0) return;
      if (step.n === 0) { step.value = value; step.next = next; }
      step.n = Math.min(2, step.n + n);
    };
    if (!sp.required) add(walk(k + 1, pos), null, pos);
    if (step.n < 2 && s.startsWith(sp.open, pos)) {
      const v = pos + sp.open.length;
      const limit = sp.stop ? s.indexOf(sp.stop, v) : -1;
      for (const next of ends) {
        if (step.n >= 2) break;
        const e = next - sp.close.length;
        if (e < v) continue;
        if (limit >= 0 && e > limit) break;
        if (sp.close && !s.startsWith(sp.close, e)) continue;
        const value = s.slice(v, e);
        if (sp.value && !sp.value.test(value)) continue;
        add(walk(k + 1, next), value, next);
      }
    }
    memo.set(key, step);
    return step.n;
  };
  const n = walk(0, from);
  if (n !== 1) return { n, fields: null };
  // One reading: follow its steps from the start.
  const fields: Fields = {};
  let pos = from;
  for (let k = 0; k < specs.length; k++) {
    const st = memo.get(k * (to + 1) + pos)!;
    fields[specs[k]!.key] = st.value;
    pos = st.next;
  }
  return { n, fields };
}
