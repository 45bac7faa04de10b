/**
 * Found by the fuzz (test/security/fuzz.test.ts): a synchronous execution asking by reference for an
 * optional output that the run did not produce answered 500 "Cannot read properties of undefined
 * (reading 'bytes')". The output is left out of the answer, as it already was when asked by value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execute, withServer } from '../helpers/server.js';

test('sync execution: a reference to an output the run did not produce is left out, not a 500', () =>
  withServer({}, async (s) => {
    const only = await execute(s.url, 'echo', { inputs: { stringInput: 'V' }, outputs: { pause: { transmissionMode: 'reference' } } });
    assert.ok(only.status < 500, `${only.status}: ${await only.text()}`);
    const mixed = await execute(s.url, 'echo', {
      inputs: { stringInput: 'V' },
      outputs: { stringInput: { transmissionMode: 'value' }, binaryInput: { transmissionMode: 'reference' } },
    });
    // The manager now names the missing output (400); what matters here is: never a 5xx.
    assert.ok(mixed.status < 500, `${mixed.status}: ${await mixed.text()}`);
    const doc = await execute(s.url, 'echo', {
      inputs: { stringInput: 'V' },
      outputs: { stringInput: {}, pause: { transmissionMode: 'reference' } },
      response: 'document',
    });
    assert.ok(doc.status < 500, `${doc.status}: ${await doc.text()}`);
  }));
