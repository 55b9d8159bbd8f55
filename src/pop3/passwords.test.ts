import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashPassword, parseHash, PasswordStore, verifyPassword } from './passwords.js';

const FAST = { N: 1024, r: 8, p: 1 };

test('a hash verifies its password only, carries its parameters, and uses a random salt', async () => {
  const h = await hashPassword('correct horse', FAST);
  assert.match(h, /^scrypt\$1024\$8\$1\$/);
  assert.equal(await verifyPassword('correct horse', h), true);
  assert.equal(await verifyPassword('correct horsE', h), false);
  assert.equal(await verifyPassword('', h), false);
  assert.notEqual(await hashPassword('correct horse', FAST), h);
});

test('no record, a garbled record or absurd parameters never verify', async () => {
  assert.equal(await verifyPassword('x', null), false);
  assert.equal(await verifyPassword('x', 'plaintext'), false);
  assert.equal(parseHash('scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='), null, 'N not a power of two');
  assert.equal(parseHash('scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='), null, 'N too large');
});

test('the store sets, replaces and removes per address, case-insensitively, with mode 0600 and no temp files left', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-pw-'));
  try {
    const file = path.join(dir, 'sub', 'passwords');
    const store = new PasswordStore(file);
    assert.equal(await store.verify('a@x.test', 'pw'), false);
    await store.set('A@X.test', 'pw one', FAST);
    await store.set('b@x.test', 'pw two', FAST);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(await store.verify('a@x.test', 'pw one'), true);
    assert.equal(await store.verify('a@x.test', 'pw two'), false);
    await store.set('a@x.test', 'new', FAST);
    assert.equal(await store.verify('a@x.test', 'pw one'), false);
    assert.equal(await store.verify('a@x.test', 'new'), true);
    assert.equal(store.remove('a@x.test'), true);
    assert.equal(store.remove('a@x.test'), false);
    assert.equal(await store.verify('a@x.test', 'new'), false);
    assert.equal(await store.verify('b@x.test', 'pw two'), true);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['passwords']);
    assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /pw two/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
