import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SiblingTasks } from '../../src/pyramid/siblings.js';

/** A task that ends when `signal` aborts (rejecting with its reason) or when `finish` is called. */
function waiting(signal: AbortSignal): { task: Promise<string>; finish: () => void; ended: () => boolean } {
  let done = false;
  let finish!: () => void;
  const task = new Promise<string>((resolve, reject) => {
    finish = () => resolve('finished');
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  }).finally(() => {
    done = true;
  });
  return { task, finish, ended: () => done };
}

test('the first failure stops the siblings; settle waits for every task, then throws that failure', async () => {
  const parent = new AbortController();
  const siblings = new SiblingTasks(parent.signal);
  const a = waiting(siblings.signal);
  const failure = new Error('slab 3 failed');
  const later: string[] = [];
  const tasks = [siblings.track(a.task), siblings.track(Promise.reject(failure))];
  await assert.rejects(
    siblings.settle(
      () => tasks,
      () => {
        later.push('second group read');
        return [];
      },
    ),
    (err) => err === failure,
  );
  assert.ok(a.ended(), 'the sibling ended before settle returned');
  assert.deepEqual(later, ['second group read']);
  assert.equal(siblings.signal.aborted, true);
});

test('a parent abort (a dismiss) stops the siblings and is what settle throws', async () => {
  const parent = new AbortController();
  const siblings = new SiblingTasks(parent.signal);
  const a = waiting(siblings.signal);
  const tasks = [siblings.track(a.task)];
  const reason = new Error('dismissed');
  parent.abort(reason);
  await assert.rejects(
    siblings.settle(() => tasks),
    (err) => err === reason,
  );
});

test('all done: settle resolves and the parent signal has no listener left', async () => {
  const parent = new AbortController();
  const siblings = new SiblingTasks(parent.signal);
  const a = waiting(siblings.signal);
  a.finish();
  await siblings.settle(() => [siblings.track(a.task)]);
  parent.abort(new Error('late'));
  assert.equal(siblings.signal.aborted, false, 'a finished group no longer follows its parent');
});
