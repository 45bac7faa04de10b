import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/errors.js';
import { negotiate, parseLimit, parseOffset, type ApiRequest } from '../../src/api/request.js';

function req(query: ApiRequest['query'] = {}, accept?: string): ApiRequest {
  return { method: 'GET', path: '/', params: {}, query, headers: accept === undefined ? {} : { accept }, baseUrl: 'http://h' };
}

function notAcceptable(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.status === 406 && pattern.test(e.detail));
}

test('no Accept, */* and application/* give JSON (ETS, OWSLib send */*)', () => {
  assert.equal(negotiate(req()), 'json');
  assert.equal(negotiate(req({}, '*/*')), 'json');
  assert.equal(negotiate(req({}, 'application/*')), 'json');
  assert.equal(negotiate(req({}, 'text/html;q=0.5, */*')), 'json'); // */* has q=1
});

test('f= wins over Accept; f accepts media type names; unknown f → 406 naming it', () => {
  assert.equal(negotiate(req({ f: 'html' }, 'application/json')), 'html');
  assert.equal(negotiate(req({ f: 'json' }, 'text/html')), 'json');
  assert.equal(negotiate(req({ f: 'text/html' })), 'html');
  assert.equal(negotiate(req({ f: 'application/json' })), 'json');
  assert.equal(negotiate(req({ f: ['html', 'json'] })), 'json'); // the last one counts
  notAcceptable(() => negotiate(req({ f: 'xml' })), /f=xml/);
  notAcceptable(() => negotiate(req({ f: 'html' }), ['json']), /f=html/);
});

test('Accept q-values and specificity', () => {
  assert.equal(negotiate(req({}, 'text/html')), 'html');
  assert.equal(negotiate(req({}, 'application/json')), 'json');
  assert.equal(negotiate(req({}, 'text/html;q=0.9, application/json;q=0.8')), 'html');
  assert.equal(negotiate(req({}, 'text/html;q=0.1, application/json')), 'json');
  assert.equal(negotiate(req({}, 'application/json;q=0, text/html;q=0.2')), 'html');
  // A browser: html explicitly, */* with lower q.
  assert.equal(negotiate(req({}, 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')), 'html');
  // Same q: the specific type beats */*.
  assert.equal(negotiate(req({}, '*/*, text/html')), 'html');
  assert.equal(negotiate(req({}, 'application/problem+json')), 'json');
  assert.equal(negotiate(req({}, 'text/*')), 'html');
  assert.equal(negotiate(req({}, 'text/html'), ['json', 'html']), 'html');
});

test('nothing acceptable → 406 naming the Accept header', () => {
  notAcceptable(() => negotiate(req({}, 'image/png')), /image\/png/);
  notAcceptable(() => negotiate(req({}, 'application/json;q=0')), /Accept/);
  notAcceptable(() => negotiate(req({}, 'text/html'), ['json']), /text\/html/);
});

test('limit: default 10, capped at 10000, integers ≥ 1; offset ≥ 0', () => {
  assert.equal(parseLimit(req()), 10);
  assert.equal(parseLimit(req({ limit: '' })), 10);
  assert.equal(parseLimit(req({ limit: '1' })), 1);
  assert.equal(parseLimit(req({ limit: '20000' })), 10000);
  for (const bad of ['0', '-1', '1.5', 'ten', 'NaN', 'Infinity']) {
    assert.throws(
      () => parseLimit(req({ limit: bad })),
      (e: unknown) => e instanceof ApiError && e.status === 400 && /limit/.test(e.detail),
      bad,
    );
  }
  assert.equal(parseOffset(req()), 0);
  assert.equal(parseOffset(req({ offset: '30' })), 30);
  assert.throws(() => parseOffset(req({ offset: '-1' })), /offset/);
});
