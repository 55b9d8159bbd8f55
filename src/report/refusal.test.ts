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

test('no report while a cluster node is silent; the refusal says how to retire a node that is gone', () => {
  const silent = { ...empty, store_behind: [{ node: 'mx2', stream: 'smtp', events: 0, behind_ms: 0, silent_ms: 90_000 }] };
  assert.match(reportRefusal(silent, 'en')!, /Server mx2 has not reported for 90 s.*mailproof cluster retire mx2/);
  assert.match(reportRefusal(silent, 'de')!, /Der Server mx2 hat sich seit 90 s nicht gemeldet.*mailproof cluster retire mx2/);
});
