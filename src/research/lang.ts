/** The languages research speaks: reports, explanations and the web UI. */
export type Lang = 'de' | 'en';
