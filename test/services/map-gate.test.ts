/** The WMS map gate (src/services/map-gate.ts): at most `concurrent` draws at once, in order, a bounded queue. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MapGate } from '../../src/services/map-gate.js';

test('MapGate runs at most `concurrent` draws at once, the others in order, and refuses beyond its queue', async () => {
  const gate = new MapGate(2, 3);
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const releases: Array<() => void> = [];
  const draw = (k: number) => async () => {
    running++;
    most = Math.max(most, running);
    order.push(k);
    await new Promise<void>((resolve) => releases.push(resolve));
    running--;
    return k;
  };
  const runs = [0, 1, 2, 3, 4, 5].map((k) => gate.run(draw(k)));
  // Two drawing, three waiting: the sixth is refused at once.
  assert.equal(await runs[5], undefined);
  // Release the draws one by one as they start, until none is left.
  for (;;) {
    await new Promise((r) => setImmediate(r));
    const next = releases.shift();
    if (!next) break;
    next();
  }
  const values = await Promise.all(runs.slice(0, 5));
  assert.deepEqual(
    values.map((v) => v?.value),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(order, [0, 1, 2, 3, 4], 'waiting draws start in arrival order');
  assert.equal(most, 2);
  // A failing draw frees its place.
  await assert.rejects(
    gate.run(async () => Promise.reject(new Error('boom'))),
    /boom/,
  );
  assert.deepEqual(await gate.run(async () => 7), { value: 7 });
});
