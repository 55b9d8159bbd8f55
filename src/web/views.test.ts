import { test } from 'node:test';
import assert from 'node:assert/strict';
import { results } from './views.js';
import type { SearchResult } from '../research/search.js';

const empty: SearchResult = { since: null, until: null, journeys: [], findings: [], near_misses: [], truncated: false };

test('the search page says in the page language when the store is behind, and escapes what it names', () => {
  assert.doesNotMatch(results(empty, 'en').s, /class="notice"/);
  const lag = [{ node: 'mx<b>2', stream: 'smtp-1', events: 1234, behind_ms: 4200 }];
  const en = results({ ...empty, store_behind: lag }, 'en').s;
  assert.match(en, /<p class="notice">The store is not complete yet: 1234 event\(s\) from server mx&lt;b&gt;2 \(smtp-1\)/);
  const de = results({ ...empty, store_behind: lag }, 'de').s;
  assert.match(de, /<p class="notice">Der Datenbestand ist noch nicht vollständig: 1234 Ereignis\(se\) vom Server mx&lt;b&gt;2/);
});

test('a cluster node that went silent is named as a possible gap, in the page language', () => {
  const lag = [{ node: 'mx3', stream: 'pop3', events: 0, behind_ms: 0, silent_ms: 125_000 }];
  assert.match(results({ ...empty, store_behind: lag }, 'en').s, /Server mx3 \(pop3\) has not reported for 125 s: its newest events may be missing/);
  assert.match(results({ ...empty, store_behind: lag }, 'de').s, /Der Server mx3 \(pop3\) hat sich seit 125 s nicht gemeldet/);
});
