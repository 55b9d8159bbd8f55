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
