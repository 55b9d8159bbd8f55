// The English texts of the web UI: one catalogue per language (de.ts has the
// same keys; the compiler and i18n.test.ts both check that none is missing).
// Values are plain text with {name} placeholders; escaping is the view's job.
// Research's findings and event lines have their own de/en texts
// (research/explain.ts, research/event-words.ts), shared with the reports.

export const en = {
  'lang.name': 'English',
  'lang.switch': 'Language',
} as const;

export type TextKey = keyof typeof en;
