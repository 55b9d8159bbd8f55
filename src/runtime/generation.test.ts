import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generations, type Closable, type Generation } from './generation.js';

class Res implements Closable {
  closed = 0;
  constructor(readonly name: string) {}
  close(): void { this.closed++; }
}

const gen = (id: number, ...resources: Res[]): Generation & { id: number } => ({ id, resources: new Set(resources) });

test('a session keeps the generation it started with; sessions after the switch get the new one', () => {
  const g1 = gen(1);
  const g2 = gen(2);
  const gens = new Generations(g1);
  const before = gens.acquire();
  gens.switchTo(g2);
  const after = gens.acquire();
  assert.equal(before.id, 1);
  assert.equal(after.id, 2);
  assert.equal(gens.current.id, 2);
  assert.equal(gens.live, 2, 'the old generation lives while its session does');
  gens.release(before);
  assert.equal(gens.live, 1);
  gens.release(after);
  assert.equal(gens.live, 1, 'the current generation stays without sessions');
});

test('a resource the new generation does not hold is closed when the last old session ends, not before', () => {
  const dropped = new Res('dropped');
  const shared = new Res('shared');
  const fresh = new Res('fresh');
  const gens = new Generations(gen(1, dropped, shared));
  const a = gens.acquire();
  const b = gens.acquire();
  gens.switchTo(gen(2, shared, fresh));
  gens.release(a);
  assert.equal(dropped.closed, 0, 'one old session is still running');
  gens.release(b);
  assert.equal(dropped.closed, 1);
  assert.equal(shared.closed, 0, 'still held by the current generation');
  assert.equal(fresh.closed, 0);
});

test('switching away from a generation without sessions closes what only it held, at once', () => {
  const old = new Res('old');
  const gens = new Generations(gen(1, old));
  gens.switchTo(gen(2));
  assert.equal(old.closed, 1);
  assert.equal(gens.live, 1);
});

test('a resource handed from generation 1 to 2 and dropped in 3 stays open while a session of 1 runs', () => {
  const r = new Res('handed on');
  const gens = new Generations(gen(1, r));
  const s1 = gens.acquire();
  gens.switchTo(gen(2, r));
  gens.switchTo(gen(3));
  assert.equal(r.closed, 0, 'generation 1 still has a session that uses it');
  gens.release(s1);
  assert.equal(r.closed, 1);
  assert.equal(gens.live, 1);
});

test('closeAll closes every resource once; a failing close is reported, not thrown', () => {
  const errors: string[] = [];
  const shared = new Res('shared');
  const bad: Closable = { close() { throw new Error('boom'); } };
  const gens = new Generations<Generation>(gen(1, shared), (e) => errors.push(e.message));
  const s = gens.acquire();
  gens.switchTo({ id: 2, resources: new Set<Closable>([shared, bad]) });
  gens.closeAll();
  assert.equal(shared.closed, 1);
  assert.deepEqual(errors, ['boom']);
  gens.release(s); // after the stop: nothing left to close, no throw
  assert.equal(shared.closed, 1);
});
