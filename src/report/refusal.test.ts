import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReport, reportRefusal } from './index.js';
import type { SearchResult } from '../research/search.js';

const empty: SearchResult = { since: null, until: null, journeys: [], findings: [], near_misses: [], truncated: false };

test('no report while the store is behind the journal: it could claim what the missing events contradict', async () => {
  assert.equal(reportRefusal(empty, 'en'), null);
  const behind = { ...empty, store_behind: [{ node: 'mx1', stream: 'smtp', events: 7, behind_ms: 0 }] };
  assert.match(reportRefusal(behind, 'en')!, /7 missing/);
  assert.match(reportRefusal(behind, 'de')!, /7 Ereignis\(se\) fehlen/);
  await assert.rejects(renderReport(behind, { lang: 'en', format: 'text' }), /has not taken in all events/);
  // Caught up: the report is written.
  assert.ok((await renderReport(empty, { lang: 'en', format: 'text' })).body.length > 0);
});
