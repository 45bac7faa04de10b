/**
 * Property-based fuzz of the HTTP surface (issue 9 "Proof"): random execute bodies for every process
 * and random query strings on every GET route, against the real server on port 0. Every answer is
 * 2xx or 4xx — never 5xx, never a dropped connection — the server keeps answering, and its peak
 * RSS stays bounded. Seeded and with a bounded number of runs, so `npm test` is reproducible; a
 * failure prints the seed and the shrunk counterexample (replay with FUZZ_SEED / FUZZ_RUNS).
 *
 * No request can leave the machine: `security.allowed_hosts` is empty, so every http(s) href or
 * callback is refused before any connection; `file:` hrefs are confined to the test's input root.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ROUTES } from '../../src/api/routes.js';
import { writeGeoTiff } from '../../src/raster/geotiff-writer.js';
import { headerOnlyTiff, patchEntry, TAG } from './hostile-tiff.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const PROCESSES = ['echo', 'hello-world', 'raster-to-pyramid', 'pyramids-to-pyramid'];
const RSS_GROWTH_MB = 300;

let s: TestServer;
let jobId: string;
let baseline: number;
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

before(async () => {
  // Small output limit: a valid random pyramid request over a high level is refused, not run for minutes.
  s = await startTestServer({ processes: Object.fromEntries(PROCESSES.map((p) => [p, p])), limits: { max_output_bytes: 50_000_000 } });
  await writeFile(path.join(s.inputRoot, 'not-a-tiff.tif'), 'plain text, not a TIFF\n');
  await writeFile(path.join(s.inputRoot, 'bomb.tif'), headerOnlyTiff({ width: 524_288, height: 524_288, tile: 64 }));
  const row = new Uint8Array(256 * 256 * 3).fill(90);
  const geo = { epsg: 2154, geoTransform: [1150000, 100, 0, 6240000, 0, -100] as const };
  await writeGeoTiff(path.join(s.inputRoot, 'map.tif'), { width: 256, height: 256, bands: 3, compression: 'deflate', ...geo }, [row]);
  const short = await readFile(path.join(s.inputRoot, 'map.tif'));
  await writeGeoTiff(path.join(s.inputRoot, 'two.tif'), { width: 512, height: 256, bands: 3, compression: 'none', ...geo }, [
    new Uint8Array(512 * 256 * 3),
  ]);
  const two = await readFile(path.join(s.inputRoot, 'two.tif'));
  patchEntry(two, TAG.TileOffsets, { count: 1 });
  await writeFile(path.join(s.inputRoot, 'short-table.tif'), two);
  void short;
  // A real job, so that job routes are fuzzed on an existing id as well as on unknown ones.
  const res = await fetch(`${s.url}/processes/echo/execution`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Prefer: 'respond-async' },
    body: JSON.stringify({ inputs: { stringInput: 'seed job' }, outputs: { stringInput: { transmissionMode: 'reference' } } }),
  });
  jobId = ((await res.json()) as { jobID: string }).jobID;
  baseline = peakRssMb();
});

after(() => s?.stop());

/** Statuses seen (a fuzz that only ever meets one refusal would prove little). */
const statuses = new Map<number, number>();

/** The answer's status; a 5xx or a network error fails the property with what was sent. */
async function send(method: string, url: string, init: RequestInit = {}): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, { method, ...init, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new Error(`${method} ${url}: no answer (${String((err as Error).cause ?? err)})`);
  }
  const text = await res.text();
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  if (process.env.FUZZ_STATS === '2' && res.status === 400) console.log(text.slice(0, 200));
  assert.ok(res.status >= 200 && res.status < 500, `${method} ${url} → ${res.status}: ${text.slice(0, 300)}`);
  return res.status;
}

async function serverUp(): Promise<void> {
  const res = await fetch(`${s.url}/`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(res.status, 200, 'the landing page still answers');
  await res.arrayBuffer();
}

// ---- Execute bodies -------------------------------------------------------------------------------

const junkString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '__proto__', 'constructor', '../../etc/passwd', '%00', '\u0000', 'NaN', '-1', '1e309', 'EPSG:2154', 'PM', 'jpg'),
);
const leaf = fc.oneof(
  junkString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(0, -1, 1e308, 2 ** 53, 0.000001),
);
/** Any JSON value, hrefs and qualified values included. */
const junk: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    leaf,
    fc.record({ href: junkString }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(junkString, tie('v'), { maxKeys: 4 }),
    fc.record({ value: tie('v'), mediaType: junkString }, { requiredKeys: [] }),
    fc.record({ bbox: fc.array(fc.double(), { maxLength: 6 }), crs: junkString }, { requiredKeys: [] }),
  ),
})).v;

/** Files under the input root: a small valid GeoTIFF and hostile ones (see before()). */
const ROOT_FILES = ['map.tif', 'not-a-tiff.tif', 'bomb.tif', 'short-table.tif', 'missing.tif'];
const binaryValue = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ href: 'ROOT/map.tif' }) },
  fc.constantFrom(...ROOT_FILES).map((f) => ({ href: `ROOT/${f}` })),
  fc
    .constantFrom(
      'file:///etc/passwd',
      'file:///nowhere.tif',
      'file://host/x',
      'http://127.0.0.1:9/x',
      'http://[::ffff:7f00:1]:9/',
      'https://example.invalid/a.tif',
      'gopher://x/',
      'data:,abc',
      'not a url',
      'file:',
    )
    .map((href) => ({ href })),
  fc.record({ value: fc.base64String({ maxLength: 64 }), mediaType: fc.constantFrom('image/tiff', 'application/octet-stream', 'x') }),
);
/** Strings that mean something to our processes, for inputs whose schema says only "string". */
const STRING_HINTS: Record<string, string[]> = {
  tms: ['PM', 'WGS84G', '4326', 'LAMB93_10cm', 'NOPE'],
  bottom: ['0', '5', '8', '10', '12', '30', '-1'],
  top: ['0', '3', '5', '8', '10', '30'],
  srs: ['EPSG:2154', 'EPSG:4326', 'EPSG:3857', 'EPSG:0', 'IGNF:LAMB93'],
  stored_data: ['nope', 'FUZZ'],
};

type Schema = Record<string, unknown>;

/** Values that mostly satisfy `schema` (so that requests get past validation), for input `id`. */
function fromSchema(schema: Schema, id: string): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if (Array.isArray(schema.oneOf))
    return fc.oneof(...(schema.oneOf as Schema[]).map((alt) => fromSchema({ ...schema, oneOf: undefined, ...alt }, id)));
  if (schema.format === 'binary' || schema.contentEncoding) return binaryValue;
  switch (schema.type) {
    case 'string': {
      const hints = STRING_HINTS[id];
      if (hints) return fc.constantFrom(...hints);
      if (typeof schema.pattern === 'string') return fc.stringMatching(new RegExp(schema.pattern));
      return fc.string({ minLength: Number(schema.minLength ?? 0), maxLength: Math.min(Number(schema.maxLength ?? 40), 40) });
    }
    case 'integer':
      return fc.integer({ min: Number(schema.minimum ?? -1000), max: Number(schema.maximum ?? 1000) });
    case 'number':
      return fc.double({ min: Number(schema.minimum ?? -1e6), max: Number(schema.maximum ?? 1e6), noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(fromSchema((schema.items ?? {}) as Schema, id), {
        minLength: Number(schema.minItems ?? 0),
        maxLength: Math.min(Number(schema.maxItems ?? 4), 4),
      });
    case 'object':
      if (schema.format === 'ogc-bbox') {
        return fc.record(
          {
            bbox: fc.array(fc.double({ min: -200, max: 7e6, noNaN: true }), { minLength: 4, maxLength: 4 }),
            crs: fc.constantFrom('http://www.opengis.net/def/crs/OGC/1.3/CRS84', 'EPSG:2154', 'x'),
          },
          { requiredKeys: ['bbox'] },
        );
      }
      return fc.dictionary(junkString, junk, { maxKeys: 3 });
    default:
      return junk;
  }
}

interface InputDescription {
  schema: Schema;
  minOccurs?: number;
  maxOccurs?: number | 'unbounded';
}

/** An input's value: mostly valid (one, or several when maxOccurs allows), sometimes junk. */
function inputValue(id: string, d: InputDescription): fc.Arbitrary<unknown> {
  // echo honours `pause` up to 3600 s: a valid one stays short.
  const one = id === 'pause' ? fc.constantFrom(0, 0.01) : fromSchema(d.schema, id);
  const many = d.maxOccurs === 'unbounded' || Number(d.maxOccurs ?? 1) > 1;
  // A JSON array given for a single-valued input reads as several values: an array value is qualified.
  const single = one.map((v) => (Array.isArray(v) ? { value: v } : v));
  const valid = many ? fc.oneof(fc.array(one, { minLength: Number(d.minOccurs ?? 0), maxLength: 3 }), one) : single;
  return fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: junk });
}

/** Inputs optional in the description but needed in practice (tms: a new pyramid needs one). */
const ESSENTIAL: Record<string, string[]> = { 'raster-to-pyramid': ['tms'] };

function executeBody(processId: string, inputs: Record<string, InputDescription>, outputIds: string[]): fc.Arbitrary<unknown> {
  const ids = Object.keys(inputs);
  const required = ids.filter((id) => Number(inputs[id].minOccurs ?? 1) > 0 || ESSENTIAL[processId]?.includes(id));
  const fields = Object.fromEntries(ids.map((id) => [id, inputValue(id, inputs[id])]));
  const requiredOnly = fc.record(Object.fromEntries(required.map((id) => [id, fields[id]])));
  const inputsArb = fc.oneof(
    { weight: 4, arbitrary: requiredOnly },
    { weight: 6, arbitrary: fc.record(fields, { requiredKeys: required }) },
    { weight: 2, arbitrary: fc.record(fields, { requiredKeys: [] }) },
    { weight: 1, arbitrary: junk },
  );
  const output = fc.oneof(
    { weight: 8, arbitrary: fc.record({ transmissionMode: fc.constantFrom('value', 'reference') }, { requiredKeys: [] }) },
    {
      weight: 1,
      arbitrary: fc.record({ transmissionMode: junkString, format: fc.record({ mediaType: junkString }) }, { requiredKeys: [] }),
    },
    { weight: 1, arbitrary: junk },
  );
  const outputs = fc.oneof(
    { weight: 8, arbitrary: fc.record(Object.fromEntries(outputIds.map((id) => [id, output])), { requiredKeys: [] }) },
    { weight: 1, arbitrary: junk },
  );
  const subscriber = fc.oneof(
    fc.record(
      { successUri: junkString, failedUri: fc.constant('http://127.0.0.1:9/'), inProgressUri: fc.constant('http://169.254.169.254/') },
      { requiredKeys: [] },
    ),
    junk,
  );
  return fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({ inputs: inputsArb, outputs, response: fc.constantFrom('raw', 'document') }, { requiredKeys: ['inputs'] }),
    },
    { weight: 1, arbitrary: fc.record({ inputs: inputsArb, outputs, response: junk, subscriber }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: junk },
  );
}

const prefer = fc.constantFrom(
  undefined,
  undefined,
  'respond-async',
  'respond-sync',
  'respond-async, wait=5',
  'wait=-1',
  'handling=strict',
  '\t',
);

for (const id of PROCESSES) {
  test(`execute ${id}: random bodies are answered 2xx/4xx, never 5xx`, async () => {
    statuses.clear();
    const description = (await (await fetch(`${s.url}/processes/${id}`)).json()) as {
      inputs: Record<string, InputDescription>;
      outputs: object;
    };
    const body = executeBody(id, description.inputs, Object.keys(description.outputs));
    await fc.assert(
      fc.asyncProperty(body, prefer, async (b, p) => {
        const text = (JSON.stringify(b) ?? 'null').replaceAll('ROOT/', `file://${s.inputRoot}/`);
        await send('POST', `${s.url}/processes/${id}/execution`, {
          headers: { 'Content-Type': 'application/json', ...(p === undefined ? {} : { Prefer: p }) },
          body: text,
        });
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    if (process.env.FUZZ_STATS) console.log(id, Object.fromEntries(statuses));
    // Past validation, not only refused: some requests were accepted. The pyramid processes stop at
    // their deepest submission checks here (stored data needed; output estimate over the fuzz's limit).
    if (id === 'echo' || id === 'hello-world')
      assert.ok(
        [...statuses.keys()].some((code) => code < 300),
        `only refusals: ${JSON.stringify(Object.fromEntries(statuses))}`,
      );
    await serverUp();
    assert.ok(peakRssMb() - baseline < RSS_GROWTH_MB, `peak RSS grew by ${(peakRssMb() - baseline).toFixed(0)} MB`);
  });
}

// ---- Query strings on every GET route -------------------------------------------------------------

const KNOWN_PARAMS = ['f', 'limit', 'offset', 'status', 'type', 'processID', 'datetime', 'minDuration', 'maxDuration', 'name', 'bbox'];
const paramName = fc.oneof(fc.constantFrom(...KNOWN_PARAMS), junkString);
const paramValue = fc.oneof(
  fc.constantFrom(
    'html',
    'json',
    'HTML',
    'text',
    '',
    '0',
    '-1',
    '10001',
    '1e3',
    'NaN',
    'Infinity',
    '..',
    '../..',
    '2026-01-01T00:00:00Z',
    '2026-01-01/..',
    '../2026-13-45',
    'accepted,running',
    'successful',
    'process',
    'pyramid',
    'echo',
    '%',
    '%zz',
    '%00',
    '__proto__',
  ),
  fc.string({ maxLength: 20 }),
  fc.integer().map(String),
);
/**
 * Query strings of up to five `name=value` pairs (names repeat: arrays). With `brackets`, names also
 * take bracket syntax (`f[a]=x`, `status[]=x`), which Express's extended parser turns into objects.
 */
function queryString(brackets: boolean): fc.Arbitrary<string> {
  const suffix = brackets ? fc.constantFrom('', '[a]', '[]', '[0]', '[__proto__]', '[a][b]') : fc.constant('');
  const pair = fc.tuple(paramName, suffix, paramValue, fc.boolean()).map(([name, sfx, v, encode]) => {
    const enc = (x: string) => (encode ? encodeURIComponent(x) : x.replace(/[#&\s[\]]/g, encodeURIComponent));
    return `${enc(name)}${sfx}=${enc(v)}`;
  });
  return fc.array(pair, { minLength: 0, maxLength: 5 }).map((pairs) => pairs.join('&'));
}

/** Concrete paths for a route pattern: known ids, unknown ones, and odd ones. */
function pathsFor(pattern: string, routesOwned: boolean): fc.Arbitrary<string> {
  const params: Record<string, fc.Arbitrary<string>> = {
    processId: fc.constantFrom(...PROCESSES, 'nope', '%2e%2e'),
    jobId: fc.constantFrom(jobId, 'nope', '00000000-0000-0000-0000-000000000000', '%2e%2e'),
    outputId: fc.constantFrom('stringInput', 'nope', 'x.y', ...(routesOwned ? ['__proto__', 'constructor', 'hasOwnProperty'] : [])),
    executionId: fc.constantFrom('nope', jobId),
    id: fc.constantFrom('nope', 'jobs', '%2e%2e', 'x.json'),
    file: fc.constantFrom('nope', 'swagger-ui.css', '..%2fpackage.json', '%2e%2e'),
  };
  const names = [...pattern.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  return fc.tuple(...names.map((n) => params[n] ?? fc.constantFrom('nope'))).map((values) => {
    let p = pattern;
    names.forEach((n, i) => {
      p = p.replace(`{${n}}`, values[i]);
    });
    return p;
  });
}

const GET_ROUTES = ROUTES.filter((r) => r.method === 'GET').map((r) => r.path);

/** `routesOwned`: also the cases the routes slice fixes (bracket parameters, prototype names as ids). */
async function fuzzGetRoutes(routesOwned: boolean): Promise<void> {
  assert.ok(GET_ROUTES.length >= 10, `routes found: ${GET_ROUTES.join(', ')}`);
  const request = fc.constantFrom(...GET_ROUTES).chain((pattern) => fc.tuple(pathsFor(pattern, routesOwned), queryString(routesOwned)));
  await fc.assert(
    fc.asyncProperty(request, async ([p, q]) => {
      await send('GET', `${s.url}${p}${q ? `?${q}` : ''}`);
    }),
    { seed: SEED, numRuns: RUNS * 8, endOnFailure: true },
  );
  if (process.env.FUZZ_STATS) console.log('GET', Object.fromEntries(statuses));
  await serverUp();
  assert.ok(peakRssMb() - baseline < RSS_GROWTH_MB, `peak RSS grew by ${(peakRssMb() - baseline).toFixed(0)} MB`);
}

test('every GET route: random query strings are answered 2xx/4xx, never 5xx', () => fuzzGetRoutes(false));

test('every GET route: parameters given as objects (f[a]=x), prototype names as ids (results/__proto__): 2xx/4xx', () =>
  fuzzGetRoutes(true));
