import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configReference } from './reference.js';

test('the README lists every configuration key exactly as the schema has it', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const m = /<!-- config-reference:start -->\n([\s\S]*?)<!-- config-reference:end -->/.exec(readme);
  assert.ok(m, 'README has the config reference markers');
  assert.equal(m[1], configReference(), 'README is out of date: paste `mailproof config --reference` between the markers');
});
