// The range decision (RFC 9110 §14, §13.1.5) as a table: what a GET with Range / If-Range gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideRange, notModifiedSince } from '../../src/api/byte-ranges.js';

const V = { etag: '"abc-1000"', lastModified: 'Mon, 04 Dec 2026 21:00:00 GMT' };

test('byte ranges: one range answered, ignored or unsatisfiable per RFC 9110 §14', () => {
  const cases: Array<[Record<string, string>, ReturnType<typeof decideRange>]> = [
    [{}, { kind: 'full' }],
    [{ range: 'bytes=0-99' }, { kind: 'partial', start: 0, end: 99 }],
    [{ range: 'bytes=100-' }, { kind: 'partial', start: 100, end: 999 }],
    [{ range: 'bytes=990-2000' }, { kind: 'partial', start: 990, end: 999 }],
    [{ range: 'bytes=-10' }, { kind: 'partial', start: 990, end: 999 }],
    [{ range: 'bytes=-5000' }, { kind: 'partial', start: 0, end: 999 }],
    [{ range: 'bytes=999-999' }, { kind: 'partial', start: 999, end: 999 }],
    [{ range: 'BYTES = 5-6' }, { kind: 'partial', start: 5, end: 6 }],
    [{ range: 'bytes=1000-' }, { kind: 'unsatisfiable' }],
    [{ range: 'bytes=-0' }, { kind: 'unsatisfiable' }],
    [{ range: 'bytes=9-5' }, { kind: 'full' }],
    [{ range: 'bytes=0-1,5-6' }, { kind: 'full' }],
    [{ range: 'items=0-5' }, { kind: 'full' }],
    [{ range: 'bytes=x-y' }, { kind: 'full' }],
    [{ range: 'bytes=-' }, { kind: 'full' }],
    [
      { range: 'bytes=0-9', 'if-range': '"abc-1000"' },
      { kind: 'partial', start: 0, end: 9 },
    ],
    [{ range: 'bytes=0-9', 'if-range': '"old-999"' }, { kind: 'full' }],
    [{ range: 'bytes=0-9', 'if-range': 'W/"abc-1000"' }, { kind: 'full' }],
    [
      { range: 'bytes=0-9', 'if-range': 'Mon, 04 Dec 2026 21:00:00 GMT' },
      { kind: 'partial', start: 0, end: 9 },
    ],
    [{ range: 'bytes=0-9', 'if-range': 'Mon, 04 Dec 2026 20:59:59 GMT' }, { kind: 'full' }],
    [{ range: 'bytes=0-9', 'if-range': 'garbage' }, { kind: 'full' }],
  ];
  for (const [headers, expected] of cases) assert.deepEqual(decideRange(headers, 1000, V), expected, JSON.stringify(headers));
  assert.deepEqual(decideRange({ range: 'bytes=0-0' }, 0, V), { kind: 'unsatisfiable' }, 'nothing to take from an empty file');
});

test('byte ranges: If-None-Match', () => {
  assert.equal(notModifiedSince(undefined, V.etag), false);
  assert.equal(notModifiedSince('"abc-1000"', V.etag), true);
  assert.equal(notModifiedSince('W/"abc-1000"', V.etag), true);
  assert.equal(notModifiedSince('"x", "abc-1000"', V.etag), true);
  assert.equal(notModifiedSince('*', V.etag), true);
  assert.equal(notModifiedSince('"x"', V.etag), false);
});
