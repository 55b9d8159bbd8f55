// The catalogue lookup: t(key, {params}) in one language. A missing key is a
// compile error (de.ts is typed by en.ts's keys), a missing parameter stays
// visible as {name} rather than silently empty.
import type { Lang } from '../../research/explain.js';
import { de } from './de.js';
import { en, type TextKey } from './en.js';

export type { TextKey };
export const CATALOGUES: Record<Lang, Record<TextKey, string>> = { en, de };

export type Params = Record<string, string | number>;
export type T = (key: TextKey, params?: Params) => string;

export function fill(text: string, params?: Params): string {
  if (!params) return text;
  return text.replace(/\{([a-z_]+)\}/g, (m, k: string) => (params[k] !== undefined ? String(params[k]) : m));
}

export function textsOf(lang: Lang): T {
  const cat = CATALOGUES[lang];
  return (key, params) => fill(cat[key], params);
}
