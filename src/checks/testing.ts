// Unit-test scaffolding for checks: a context with fake services. Never used
// by the product; end-to-end tests run the real services.
import { FakeResolver } from '../dns/fake.js';
import { LocalDomains } from '../domains/index.js';
import { Health } from '../health/index.js';
import type { CheckContext, CheckDeps, Stage } from './types.js';

export function testDeps(o: Partial<CheckDeps> = {}): CheckDeps {
  return {
    now: () => 0,
    domains: new LocalDomains({}),
    maxMessageSize: 1000,
    hostname: 'mx.local.test',
    dataDir: '/nonexistent',
    cluster: null,
    resolver: new FakeResolver(),
    clamd: null,
    spam: null,
    health: new Health(() => 0),
    verify: null,
    ...o,
  };
}

export function testContext(stage: Stage, o: Partial<CheckContext> = {}, deps: Partial<CheckDeps> = {}): CheckContext {
  return {
    stage, rcpt: null, message: null, tx: null, flags: new Set(), earlier: new Map(),
    session: { id: 's', clientIp: '127.0.0.9', clientPort: 1, localIp: '127.0.0.1', localPort: 25, ptr: null, helo: null, tls: false },
    deps: testDeps(deps),
    ...o,
  };
}
