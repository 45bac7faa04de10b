import { test } from 'node:test';
import assert from 'node:assert/strict';
import echo from '../../processes/echo/index.js';
import { ApiError } from '../../src/errors.js';
import { parseExecuteRequest } from '../../src/process/execute-request.js';
import type { ProcessDescription } from '../../src/process/types.js';

const ECHO = echo.description;

/** A description with the shapes echo lacks: maxOccurs > 1, enums, minOccurs 2. */
const MULTI: ProcessDescription = {
  id: 'multi',
  version: '1.0.0',
  title: 'multi',
  jobControlOptions: ['sync-execute'],
  outputTransmission: ['value'],
  inputs: {
    level: { schema: { type: 'integer', minimum: 0, maximum: 21 } },
    names: { schema: { type: 'string', enum: ['a', 'b', 'c'] }, minOccurs: 2, maxOccurs: 3 },
    tags: { schema: { type: 'string' }, minOccurs: 0, maxOccurs: 'unbounded' },
  },
  outputs: { out: { schema: { type: 'string' } } },
};

function rejects(description: ProcessDescription, body: unknown, pattern: RegExp, status = 400): ApiError {
  try {
    parseExecuteRequest(description, body);
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
    assert.equal(err.status, status);
    assert.match(err.detail, pattern);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(body).slice(0, 100)} to be refused`);
}

test('inputs by value; omitted outputs mean every output by value; response defaults to raw', () => {
  const p = parseExecuteRequest(ECHO, { inputs: { stringInput: 'hi', pause: 1.5, arrayInput: [1, 2] } });
  assert.deepEqual(p.inputs.stringInput, { kind: 'value', value: 'hi' });
  assert.deepEqual(p.inputs.pause, { kind: 'value', value: 1.5 });
  assert.deepEqual(p.inputs.arrayInput, { kind: 'value', value: [1, 2] });
  assert.deepEqual(Object.keys(p.outputs).sort(), Object.keys(ECHO.outputs).sort());
  for (const o of Object.values(p.outputs)) assert.equal(o.transmissionMode, 'value');
  assert.equal(p.response, 'raw');
  assert.equal(p.subscriber, undefined);
});

test('a qualified value is unwrapped and validated; an object matching its schema is kept whole', () => {
  const p = parseExecuteRequest(ECHO, {
    inputs: { stringInput: { value: 'q', mediaType: 'text/plain' }, objectInput: { value: 'teststring' } },
  });
  assert.deepEqual(p.inputs.stringInput, { kind: 'value', value: 'q', mediaType: 'text/plain', encoding: undefined });
  // The ETS sends {"value":"teststring"} for object inputs: that is an object value.
  assert.deepEqual(p.inputs.objectInput, { kind: 'value', value: { value: 'teststring' } });
  rejects(ECHO, { inputs: { stringInput: { value: 12 } } }, /input 'stringInput'.*must be string \(rule type\)/);
});

test('base64 binary: bare, qualified with format{mediaType, encoding}; invalid base64 refused', () => {
  const b64 = Buffer.from([0, 1, 2, 255]).toString('base64');
  const p = parseExecuteRequest(ECHO, {
    inputs: { stringInput: 'x', binaryInput: { value: b64, format: { mediaType: 'image/tiff', encoding: 'base64' } } },
  });
  assert.deepEqual(p.inputs.binaryInput, { kind: 'value', value: b64, mediaType: 'image/tiff', encoding: 'base64' });
  const bare = parseExecuteRequest(ECHO, { inputs: { stringInput: 'x', binaryInput: b64 } });
  assert.deepEqual(bare.inputs.binaryInput, { kind: 'value', value: b64, encoding: 'base64' });
  rejects(ECHO, { inputs: { stringInput: 'x', binaryInput: 'not*base64!' } }, /binaryInput.*not valid base64/);
  rejects(ECHO, { inputs: { stringInput: 'x', binaryInput: { value: 42 } } }, /binaryInput.*base64 string/);
  rejects(ECHO, { inputs: { stringInput: 'x', binaryInput: 42 } }, /binaryInput.*binary content/);
});

test('bbox: 4 or 6 numbers with an optional CRS; other shapes refused naming the rule', () => {
  const p = parseExecuteRequest(ECHO, {
    inputs: { stringInput: 'x', bboxInput: { bbox: [51.9, 7, 52, 7.1], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' } },
  });
  assert.deepEqual(p.inputs.bboxInput, {
    kind: 'value',
    value: { bbox: [51.9, 7, 52, 7.1], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' },
  });
  parseExecuteRequest(ECHO, { inputs: { stringInput: 'x', bboxInput: { bbox: [1, 2, 3, 4, 5, 6] } } });
  rejects(ECHO, { inputs: { stringInput: 'x', bboxInput: { bbox: [1, 2, 3] } } }, /bboxInput/);
  rejects(ECHO, { inputs: { stringInput: 'x', bboxInput: { bbox: [1, 2, 3, 'x'] } } }, /bboxInput.*\/bbox\/3.*rule type/);
  rejects(ECHO, { inputs: { stringInput: 'x', bboxInput: { crs: 'EPSG:4326' } } }, /bboxInput.*(bbox|required)/);
});

test('arrays: maxOccurs > 1 takes an array (or one value), counts checked; array where one value belongs refused', () => {
  const p = parseExecuteRequest(MULTI, { inputs: { level: 3, names: ['a', 'b'], tags: 'one' } });
  assert.deepEqual(p.inputs.names, [
    { kind: 'value', value: 'a' },
    { kind: 'value', value: 'b' },
  ]);
  assert.deepEqual(p.inputs.tags, [{ kind: 'value', value: 'one' }]);
  rejects(MULTI, { inputs: { level: [3], names: ['a', 'b'] } }, /input 'level'.*maxOccurs 1/);
  rejects(MULTI, { inputs: { level: 3, names: ['a'] } }, /input 'names'.*at least 2/);
  rejects(MULTI, { inputs: { level: 3, names: ['a', 'b', 'c', 'a'] } }, /input 'names'.*at most 3/);
  rejects(MULTI, { inputs: { level: 3, names: ['a', 'z'] } }, /input 'names\[1\]'.*allowed values.*"a", "b", "c".*rule enum/);
  rejects(MULTI, { inputs: { level: 3, names: 'a' } }, /input 'names'.*at least 2/);
  // An array-typed input (echo's arrayInput) takes the array as its one value.
  rejects(ECHO, { inputs: { stringInput: 'x', arrayInput: [1, 'two'] } }, /arrayInput.*\/1.*rule type/);
  rejects(ECHO, { inputs: { stringInput: ['a', 'b'] } }, /input 'stringInput'.*maxOccurs 1/);
});

test('href inputs are classified, not fetched; a non-URL href is refused', () => {
  const p = parseExecuteRequest(ECHO, {
    inputs: { stringInput: { href: 'file:///data/in.txt', type: 'text/plain' }, binaryInput: { href: 'https://example.org/a.tif' } },
  });
  assert.deepEqual(p.inputs.stringInput, { kind: 'href', href: 'file:///data/in.txt', mediaType: 'text/plain' });
  assert.deepEqual(p.inputs.binaryInput, { kind: 'href', href: 'https://example.org/a.tif' });
  rejects(ECHO, { inputs: { stringInput: { href: 'no scheme here' } } }, /stringInput.*not a URL/);
  rejects(ECHO, { inputs: { stringInput: { href: 'http://x/' + 'a'.repeat(5000) } } }, /stringInput.*4096/);
});

test('unknown input → 400 naming it; missing required input → 400 naming it', () => {
  const e = rejects(ECHO, { inputs: { stringInput: 'x', colour: 'red' } }, /input 'colour': unknown input/);
  assert.equal(e.toProblem().input, 'colour');
  assert.equal(e.toProblem().type, 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/invalid-input');
  rejects(ECHO, { inputs: {} }, /input 'stringInput': is required/);
  rejects(ECHO, {}, /input 'stringInput': is required/);
  rejects(ECHO, { inputs: { stringInput: null } }, /input 'stringInput': is required/);
});

test('wrong types name the input and the JSON Schema rule', () => {
  rejects(ECHO, { inputs: { stringInput: 5 } }, /input 'stringInput': must be string \(rule type\)/);
  rejects(ECHO, { inputs: { stringInput: 'x', pause: '5' } }, /input 'pause': must be number \(rule type\)/);
  rejects(ECHO, { inputs: { stringInput: 'x', pause: -1 } }, /input 'pause':.*rule minimum/);
  rejects(ECHO, { inputs: { stringInput: 'x', pause: 4000 } }, /input 'pause':.*rule maximum/);
  rejects(ECHO, { inputs: { stringInput: 'x'.repeat(1_000_001) } }, /input 'stringInput':.*rule maxLength/);
  rejects(MULTI, { inputs: { level: 2.5, names: ['a', 'b'] } }, /input 'level': must be integer \(rule type\)/);
});

test('body shape: not an object, unknown top-level member, inputs not an object', () => {
  for (const body of [null, 'x', 42, [], true]) rejects(ECHO, body, /must be a JSON object/);
  rejects(ECHO, { inputs: { stringInput: 'x' }, extra: 1 }, /unknown member 'extra'/);
  rejects(ECHO, { 'invalid-execute-request': 'true)' }, /unknown member 'invalid-execute-request'/);
  rejects(ECHO, { inputs: [] }, /'inputs' must be an object/);
  rejects(ECHO, { inputs: 'x' }, /'inputs' must be an object/);
});

test('outputs and transmissionMode: selection, reference, format; unknown output and bad mode refused', () => {
  const p = parseExecuteRequest(ECHO, {
    inputs: { stringInput: 'x' },
    outputs: { stringInput: { transmissionMode: 'reference', format: { mediaType: 'text/plain' } }, pause: {} },
  });
  assert.deepEqual(p.outputs, {
    stringInput: { transmissionMode: 'reference', format: { mediaType: 'text/plain' } },
    pause: { transmissionMode: 'value' },
  });
  assert.deepEqual(
    Object.keys(parseExecuteRequest(ECHO, { inputs: { stringInput: 'x' }, outputs: {} }).outputs).length,
    Object.keys(ECHO.outputs).length,
  );
  rejects(ECHO, { inputs: { stringInput: 'x' }, outputs: { nope: {} } }, /unknown output 'nope'/);
  rejects(
    ECHO,
    { inputs: { stringInput: 'x' }, outputs: { stringInput: { transmissionMode: 'carrier-pigeon' } } },
    /transmissionMode must be 'value' or 'reference'/,
  );
  rejects(ECHO, { inputs: { stringInput: 'x' }, outputs: { stringInput: 'value' } }, /output 'stringInput' must be an object/);
  rejects(ECHO, { inputs: { stringInput: 'x' }, outputs: [] }, /'outputs' must be an object/);
  rejects(
    MULTI,
    { inputs: { level: 1, names: ['a', 'b'] }, outputs: { out: { transmissionMode: 'reference' } } },
    /transmissionMode 'reference' is not offered/,
  );
});

test('response raw/document; anything else refused', () => {
  assert.equal(parseExecuteRequest(ECHO, { inputs: { stringInput: 'x' }, response: 'document' }).response, 'document');
  assert.equal(parseExecuteRequest(ECHO, { inputs: { stringInput: 'x' }, response: 'raw' }).response, 'raw');
  rejects(ECHO, { inputs: { stringInput: 'x' }, response: 'RAW' }, /'response' must be 'raw' or 'document'/);
  rejects(ECHO, { inputs: { stringInput: 'x' }, response: 1 }, /'response' must be 'raw' or 'document'/);
});

test('subscriber: http(s) URIs kept; other schemes and non-objects refused naming the member', () => {
  const p = parseExecuteRequest(ECHO, {
    inputs: { stringInput: 'x' },
    subscriber: { successUri: 'http://cb.example.org/ok', failedUri: 'https://cb.example.org/ko' },
  });
  assert.deepEqual(p.subscriber, { successUri: 'http://cb.example.org/ok', failedUri: 'https://cb.example.org/ko' });
  rejects(
    ECHO,
    { inputs: { stringInput: 'x' }, subscriber: { inProgressUri: 'ftp://x/' } },
    /subscriber.inProgressUri must be an http\(s\) URL/,
  );
  rejects(ECHO, { inputs: { stringInput: 'x' }, subscriber: { successUri: 12 } }, /subscriber.successUri/);
  rejects(ECHO, { inputs: { stringInput: 'x' }, subscriber: 'http://x/' }, /'subscriber' must be an object/);
});

test('prototype-pollution keys are unknown inputs and pollute nothing', () => {
  const body = JSON.parse('{"inputs":{"stringInput":"x","__proto__":{"polluted":1}}}');
  rejects(ECHO, body, /input '__proto__': unknown input/);
  rejects(
    ECHO,
    JSON.parse('{"inputs":{"stringInput":"x","constructor":{"prototype":{"polluted":1}}}}'),
    /input 'constructor': unknown input/,
  );
  rejects(ECHO, JSON.parse('{"__proto__":{"polluted":1},"inputs":{"stringInput":"x"}}'), /unknown member '__proto__'/);
  rejects(ECHO, JSON.parse('{"inputs":{"stringInput":"x"},"outputs":{"__proto__":{}}}'), /unknown output '__proto__'/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('friendly href messages: a plain path suggests file://, a path where binary content belongs names both forms', () => {
  rejects(ECHO, { inputs: { stringInput: { href: '/data/inputs/scan.tif' } } }, /stringInput.*not a URL.*file:\/\/\/absolute\/path/);
  rejects(ECHO, { inputs: { stringInput: { href: 'scan.tif' } } }, /not a URL.*file: URL/);
  const plain = rejects(ECHO, { inputs: { stringInput: 'x', binaryInput: '/data/inputs/scan.tif' } }, /binaryInput.*not valid base64/);
  assert.match(plain.detail, /\{"href": "file:\/\/\/absolute\/path"\}/);
  assert.match(plain.detail, /in base64/);
  const url = rejects(ECHO, { inputs: { stringInput: 'x', binaryInput: 'file:///data/inputs/scan.tif' } }, /binaryInput/);
  assert.match(url.detail, /\{"href": "file:\/\/\/data\/inputs\/scan.tif"\}/);
});

test('nested schema defaults fill members left out of an object input (a bbox without crs is CRS84)', () => {
  const p = parseExecuteRequest(ECHO, { inputs: { stringInput: 'x', bboxInput: { bbox: [2.1, 48.7, 2.5, 49.0] } } });
  assert.deepEqual(p.inputs.bboxInput, {
    kind: 'value',
    value: { bbox: [2.1, 48.7, 2.5, 49.0], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84' },
  });
  const given = parseExecuteRequest(ECHO, { inputs: { stringInput: 'x', bboxInput: { bbox: [0, 0, 1, 1], crs: 'EPSG:2154' } } });
  assert.equal((given.inputs.bboxInput as { value: { crs: string } }).value.crs, 'EPSG:2154');
});

test('schema defaults fill left-out inputs and are listed as defaulted; given inputs are not', () => {
  const p = parseExecuteRequest(ECHO, { inputs: { stringInput: 'x' } });
  assert.deepEqual(p.inputs.pause, { kind: 'value', value: 0 });
  assert.deepEqual(p.defaulted, ['pause']);
  const given = parseExecuteRequest(ECHO, { inputs: { stringInput: 'x', pause: 1 } });
  assert.deepEqual(given.defaulted, []);
});
