import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, journeysCsv } from './csv.js';
import { textsOf } from './i18n/index.js';
import type { ExplainedJourney } from '../research/search.js';

test('CSV cells are quoted, quotes doubled, and formulas defused', () => {
  assert.equal(csvCell('plain'), '"plain"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('=HYPERLINK("http://x")'), '"\'=HYPERLINK(""http://x"")"');
  for (const lead of ['+', '-', '@', '\t', '\r']) assert.ok(csvCell(`${lead}1`).startsWith(`"'${lead}`), JSON.stringify(lead));
  assert.equal(csvCell('a\x00b'), '"a\ufffdb"');
  assert.equal(csvCell(null), '""');
});

test('a search as CSV: a header in the page language, one line per journey, newest first as on the page, times in the zone asked for', () => {
  const j = (ref: string, at: string, subject: string): ExplainedJourney => ({
    ref, node: 'n', source: 'gateway', started_at: at, client_ip: '192.0.2.1', helo: null, mail_from: 'a@x.test', rcpt: 'b@y.test',
    message_id: null, outcome: 'rejected', reply: '550', diagnosis: ['virus'], access: [], near_misses: [],
    events: [{ id: 1, ts: Date.parse(at), node: 'n', source: 'gateway', kind: 'data.received', details: { subject } }],
    explanations: [{ code: 'virus', side: 'sender', title: 'Virus', what: '', action: '', evidence: [] }],
  });
  const out = journeysCsv([j('NEWER', '2026-12-05T13:00:00.000Z', '=cmd'), j('OLDER', '2026-12-05T12:00:00.000Z', 'Grüße')].reverse(), { t: textsOf('de'), lang: 'de', timeZone: 'Europe/Berlin' });
  assert.ok(out.startsWith('\ufeff"Zeit (Europe/Berlin)","Zeit (UTC)","REF","Status","Von","An","Betreff"'));
  const lines = out.slice(1).trimEnd().split('\r\n');
  assert.equal(lines.length, 3);
  assert.match(lines[1]!, /^"2026-12-05 14:00:00","2026-12-05T13:00:00.000Z","NEWER","Abgelehnt",.*"'=cmd"/);
  assert.match(lines[2]!, /^"2026-12-05 13:00:00",.*"OLDER".*"Grüße".*"virus"$/);
});
