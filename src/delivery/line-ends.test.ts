import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { LoneCrToLf } from './line-ends.js';

async function through(chunks: string[]): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks.map((s) => Buffer.from(s, 'latin1'))).pipe(new LoneCrToLf())) out.push(c as Buffer);
  return Buffer.concat(out).toString('latin1');
}

test('a lone CR becomes LF, CRLF stays, also across chunk boundaries and at the end', async () => {
  assert.equal(await through(['a\nb\n']), 'a\nb\n');
  assert.equal(await through(['outer\r.\r\nMAIL']), 'outer\n.\r\nMAIL');
  assert.equal(await through(['x\r', '\ny\r', '.z\r']), 'x\r\ny\n.z\n');
});
