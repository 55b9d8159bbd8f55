import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterError, parseFilter, parseLang } from './filters.js';

test('filter errors name fields neutrally; each caller words the names its own way', () => {
  const errorOf = (f: () => unknown): FilterError => {
    try { f(); } catch (err) { if (err instanceof FilterError) return err; throw err; }
    throw new Error('no error');
  };
  const none = errorOf(() => parseFilter({ since: '7d' }));
  assert.equal(none.message, 'needs at least one of rcpt, domain, from, ip, ref, message-id');
  assert.equal(none.format((f) => `--${f}`), 'needs at least one of --rcpt, --domain, --from, --ip, --ref, --message-id');
  const order = errorOf(() => parseFilter({ rcpt: 'a@b.test', until: '2026-01-02', 'as-of': '2026-01-01' }));
  assert.equal(order.format((f) => `--${f}`), '--until must not be after --as-of');
  // A value with "--" in it stays as it was typed.
  assert.match(errorOf(() => parseFilter({ rcpt: 'a@b.test', since: '--x' })).message, /^since --x: expected a date/);
  assert.equal(errorOf(() => parseLang('fr')).message, 'lang must be en or de, not "fr"');
  assert.equal(parseFilter({ ref: 'ABC' }).since, undefined);
});
