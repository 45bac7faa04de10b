import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideExecutionMode } from '../../src/process/execution-mode.js';

const BOTH = ['sync-execute', 'async-execute'];
const SYNC = ['sync-execute'];
const ASYNC = ['async-execute'];

// OGC 18-062r2 §7.11.2.3 and ogcapi-processes.md §0.1/§3.4: one row per (jobControlOptions, Prefer).
const table: Array<[string[], string | undefined, 'sync' | 'async', string | undefined]> = [
  [BOTH, undefined, 'sync', undefined],
  [SYNC, undefined, 'sync', undefined],
  [ASYNC, undefined, 'async', undefined],
  [BOTH, 'respond-async', 'async', 'respond-async'],
  [BOTH, 'respond-async ', 'async', 'respond-async'], // the ETS's trailing space
  [BOTH, '  Respond-Async  ', 'async', 'respond-async'],
  [BOTH, 'respond-async, wait=10', 'async', 'respond-async'],
  [BOTH, 'wait=10, respond-async', 'async', 'respond-async'],
  [BOTH, 'return=minimal; foo=bar, respond-async', 'async', 'respond-async'],
  [BOTH, 'respond-sync', 'sync', undefined], // OWSLib's non-standard token is ignored
  [BOTH, 'wait=5', 'sync', undefined],
  [BOTH, '', 'sync', undefined],
  [BOTH, 'respond-asyncx', 'sync', undefined],
  [SYNC, 'respond-async', 'sync', undefined],
  [ASYNC, 'respond-sync', 'async', undefined],
  [ASYNC, 'respond-async', 'async', 'respond-async'],
];

for (const [options, prefer, mode, applied] of table) {
  test(`decideExecutionMode(${options.join('+')}, ${JSON.stringify(prefer)}) → ${mode}`, () => {
    const d = decideExecutionMode(options, prefer);
    assert.equal(d.mode, mode);
    assert.equal(d.preferenceApplied, applied);
  });
}
