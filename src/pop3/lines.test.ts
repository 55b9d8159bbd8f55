import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineReader, type LineEvent } from './lines.js';

const show = (evs: LineEvent[]): string[] => evs.map((e) => ('line' in e ? e.line.toString('latin1') : '<too long>'));

test('lines end with CRLF or LF, across chunk borders, CR stripped', () => {
  const r = new LineReader(100);
  assert.deepEqual(show(r.push(Buffer.from('USER a\r\nPA'))), ['USER a']);
  assert.deepEqual(show(r.push(Buffer.from('SS b\r'))), []);
  assert.deepEqual(show(r.push(Buffer.from('\nSTAT\nNOOP\r\n'))), ['PASS b', 'STAT', 'NOOP']);
});

test('an overlong line is dropped up to its LF, reported once, and the next line is read normally', () => {
  const r = new LineReader(10);
  const big = Buffer.alloc(1024 * 1024, 0x41);
  assert.deepEqual(show(r.push(big)), []);
  assert.equal(r.pending, 0, 'nothing of the overlong line is held');
  assert.deepEqual(show(r.push(Buffer.from('AAA\r\nSTAT\r\n'))), ['<too long>', 'STAT']);
  // Exactly at the limit (without CRLF) passes; one more octet does not.
  assert.deepEqual(show(r.push(Buffer.from('0123456789\r\n01234567890\r\n'))), ['0123456789', '<too long>']);
});

test('NUL and bare CR inside a line stay in the line (the session cleans them)', () => {
  const r = new LineReader(100);
  assert.deepEqual(show(r.push(Buffer.from('USER a\x00b\rc\r\n'))), ['USER a\x00b\rc']);
});

test('reset drops a buffered partial line (STLS)', () => {
  const r = new LineReader(100);
  r.push(Buffer.from('USER inj'));
  r.reset();
  assert.deepEqual(show(r.push(Buffer.from('ected\r\nCAPA\r\n'))), ['ected', 'CAPA']);
});
