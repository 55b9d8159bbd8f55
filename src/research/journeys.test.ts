import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteLedgerReader } from '../ledger/sqlite/reader.js';
import { SqliteLedgerWriter } from '../ledger/sqlite/writer.js';
import type { LedgerEvent } from '../ledger/types.js';
import { trace } from './journeys.js';

function ev(kind: LedgerEvent['kind'], o: Partial<LedgerEvent>): LedgerEvent {
  return { ts: Date.now(), node: 'n1', source: 'gateway', kind, session: 's1', client_ip: '192.0.2.21', ...o };
}

test('diagnosis: the refusing check first, then what other checks of the session found', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-journeys-'));
  const file = path.join(dir, 'ledger.sqlite');
  const w = new SqliteLedgerWriter(file);
  await w.ready;
  await w.append([
    // Seed case: an in-house server on a dynamic DSL address, on a block list.
    ev('session.connect', { ref: 'SESSIONREF01' }),
    ev('check.result', { ref: 'TXREF0000001', mail_from: 'boss@customer.test', check_name: 'client_identity', verdict: 'flag', details: { stage: 'connect', evidence: { finding: 'dynamic_name' } } }),
    ev('check.result', { ref: 'TXREF0000001', mail_from: 'boss@customer.test', check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, details: { stage: 'connect' } }),
    ev('mail.from', { ref: 'TXREF0000001', mail_from: 'boss@customer.test' }),
    ev('rcpt.rejected', { ref: 'TXREF0000001', mail_from: 'boss@customer.test', rcpt: 'info@local.test', check_name: 'dnsbl', verdict: 'reject', smtp_code: 554, reply: '554 5.7.1 listed' }),
    // The sender's provider put an IP address as MX.
    ev('check.result', { session: 's2', ref: 'TXREF0000002', mail_from: 'a@mxip.test', check_name: 'sender_domain', verdict: 'reject', smtp_code: 550, details: { stage: 'mail', evidence: { finding: 'mx_is_ip' } } }),
    ev('rcpt.rejected', { session: 's2', ref: 'TXREF0000002', mail_from: 'a@mxip.test', rcpt: 'info@local.test', check_name: 'sender_domain', verdict: 'reject', smtp_code: 550 }),
    // "I only sent a Word file".
    ev('rcpt.accepted', { session: 's3', ref: 'TXREF0000003', mail_from: 'b@word.test', rcpt: 'info@local.test' }),
    ev('check.result', { session: 's3', ref: 'TXREF0000003', mail_from: 'b@word.test', check_name: 'virus', verdict: 'reject', smtp_code: 554, details: { stage: 'data' } }),
    ev('data.rejected', { session: 's3', ref: 'TXREF0000003', mail_from: 'b@word.test', rcpt: 'info@local.test', check_name: 'virus', verdict: 'reject', smtp_code: 554 }),
    // Delivered despite a flag: only "delivered".
    ev('check.result', { session: 's4', ref: 'TXREF0000004', mail_from: 'c@ok.test', check_name: 'spf', verdict: 'flag', details: { stage: 'mail' } }),
    ev('message.delivered', { session: 's4', ref: 'TXREF0000004', mail_from: 'c@ok.test', rcpt: 'info@local.test', smtp_code: 250 }),
  ]);
  await w.close();
  const r = new SqliteLedgerReader(file);
  const j = trace(r, { rcpt: 'info@local.test', since: 0 });
  r.close();
  const by = new Map(j.map((x) => [x.ref, x]));
  assert.deepEqual(by.get('TXREF0000001')?.diagnosis, ['sender_ip_blocklisted', 'sender_dynamic_ip']);
  assert.equal(by.get('TXREF0000001')?.outcome, 'rejected');
  assert.deepEqual(by.get('TXREF0000002')?.diagnosis, ['sender_mx_is_ip']);
  assert.deepEqual(by.get('TXREF0000003')?.diagnosis, ['virus']);
  assert.deepEqual(by.get('TXREF0000004')?.diagnosis, ['delivered']);
  fs.rmSync(dir, { recursive: true, force: true });
});
