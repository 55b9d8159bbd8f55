import type { Config } from '../config/schema.js';
import type { ResearchSettings } from './journeys.js';

/** What the configuration tells research: the retry window, and whether our POP3 server reads the embedded Maildirs. */
export function researchSettings(cfg: Pick<Config, 'research' | 'pop3'>): ResearchSettings {
  return { retryWindowMs: cfg.research.retry_window_s * 1000, ownPop3: cfg.pop3.listen.length > 0 };
}
