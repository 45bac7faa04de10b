import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildRequest, parseCliArgs, parseValue, UsageError } from '../src/cli.js';
import { makeSyntheticMap, SYNTHETIC_SIZES } from './fixtures/synthetic-raster.js';

const BIN = path.resolve('bin/dallage.js');
let dir: string;
let raster: string;
let config: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dallage(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, DALLAGE_CONFIG: '' } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
      },
    );
  });
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dallage-cli-'));
  raster = path.join(dir, 'inputs', 'T.tif');
  await fs.mkdir(path.dirname(raster));
  await makeSyntheticMap({ ...SYNTHETIC_SIZES.T, path: raster });
  // A config that does not list raster-to-pyramid: the CLI adds built-ins it is asked to run.
  config = path.join(dir, 'config.yml');
  await fs.writeFile(
    config,
    `processes:\n  echo: echo\nmanager:\n  name: lowdb\n  connection: ${path.join(dir, 'jobs')}\nstorage:\n  path: ${path.join(dir, 'store')}\nsecurity:\n  input_roots: []\n`,
  );
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('parseCliArgs: repeated inputs, options, usage errors', () => {
  const cmd = parseCliArgs([
    'execute',
    'raster-to-pyramid',
    '--input',
    'images=a.tif',
    '--input=images=b.tif',
    '-i',
    'tms=PM',
    '--output-dir',
    'o',
    '--threads',
    '2',
    '--quiet',
  ]);
  assert.equal(cmd.command, 'execute');
  if (cmd.command !== 'execute') return;
  assert.equal(cmd.process, 'raster-to-pyramid');
  assert.deepEqual(cmd.inputs.get('images'), ['a.tif', 'b.tif']);
  assert.deepEqual(cmd.inputs.get('tms'), ['PM']);
  assert.equal(cmd.outputDir, 'o');
  assert.equal(cmd.threads, 2);
  assert.equal(cmd.quiet, true);
  assert.deepEqual(parseCliArgs(['--help']), { command: 'help' });
  assert.deepEqual(parseCliArgs(['serve', '--config', 'c.yml']), { command: 'serve', config: 'c.yml' });
  assert.throws(() => parseCliArgs(['execute']), UsageError);
  assert.throws(() => parseCliArgs(['execute', 'p', '--input', 'novalue']), UsageError);
  assert.throws(() => parseCliArgs(['frobnicate']), UsageError);
});

test('values: JSON when they parse, strings otherwise; string inputs keep their text; files become hrefs', () => {
  assert.equal(parseValue('true'), true);
  assert.equal(parseValue('255'), 255);
  assert.deepEqual(parseValue('[1,2]'), [1, 2]);
  assert.equal(parseValue('PM'), 'PM');
  const description = {
    inputs: { images: { schema: { type: 'string', format: 'binary' } }, bottom: { schema: { type: 'string' } }, nodata: { schema: {} } },
  };
  const { body, roots } = buildRequest(
    {
      process: 'p',
      quiet: true,
      inputs: new Map([
        ['images', [raster, raster]],
        ['bottom', ['13']],
        ['nodata', ['255']],
      ]),
    },
    description,
  );
  const inputs = body.inputs as Record<string, unknown>;
  assert.deepEqual(inputs.images, [{ href: new URL(`file://${raster}`).href }, { href: new URL(`file://${raster}`).href }]);
  assert.equal(inputs.bottom, '13');
  assert.equal(inputs.nodata, 255);
  assert.equal(roots.length, 1);
});

test('dallage --help prints the usage and exits 0', async () => {
  const r = await dallage('--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /dallage execute <process>/);
});

test('dallage execute raster-to-pyramid writes a pyramid and prints its record', async () => {
  const out = path.join(dir, 'out');
  const r = await dallage(
    'execute',
    'raster-to-pyramid',
    '--config',
    config,
    '--output-dir',
    out,
    '--threads',
    '1',
    '--input',
    `images=${raster}`,
    '--input',
    'name=T_CLI',
    '--input',
    'tms=PM',
    '--input',
    'compression=jpg90',
    '--input',
    'mask=true',
    '--input',
    'nodata=255',
  );
  assert.equal(r.code, 0, r.stderr);
  // One output: printed as HTTP's raw answer gives it, the stored data record itself.
  const record = JSON.parse(r.stdout) as {
    status: string;
    name: string;
    type: string;
    type_infos: { levels: Array<{ id: string }>; mask: boolean; format: string };
  };
  assert.equal(record.status, 'READY');
  assert.equal(record.name, 'T_CLI');
  assert.equal(record.type, 'ROK4-PYRAMID-RASTER');
  assert.equal(record.type_infos.format, 'TIFF_JPG90_UINT8');
  assert.equal(record.type_infos.mask, true);
  const levels = record.type_infos.levels.map((l) => l.id);
  assert.equal(levels[0], '0');
  // T is 500 m pixels: the bottom level of PM is 8 (611 m at the equator, ~450 m at 42° N)
  assert.ok(levels.length >= 7, levels.join(','));
  // The pyramid lands in its folder under --output-dir: descriptor, list and slabs of the bottom level.
  const folder = path.join(out, 'pyramids', 'T_CLI');
  const descriptor = JSON.parse(await fs.readFile(path.join(folder, 'T_CLI.json'), 'utf8')) as { levels: Array<{ id: string }> };
  assert.equal(descriptor.levels.length, levels.length);
  assert.ok(existsSync(path.join(folder, 'T_CLI.list')));
  assert.ok(existsSync(path.join(folder, 'T_CLI', 'DATA', levels[levels.length - 1])));
  assert.ok(existsSync(path.join(folder, 'T_CLI', 'MASK')));
  // No job folder is left behind: the outputs were printed.
  assert.equal(existsSync(path.join(out, 'jobs')), false, (await fs.readdir(out)).join(', '));
  // Progress went to stderr, not stdout.
  assert.match(r.stderr, /%/);
  assert.doesNotMatch(r.stdout, /%\s+level/);
});

test('dallage execute refuses a pyramid name already in --output-dir; --overwrite replaces it whole', async () => {
  const out = path.join(dir, 'twice');
  const run = (...extra: string[]) =>
    dallage(
      'execute',
      'raster-to-pyramid',
      '--config',
      config,
      '--output-dir',
      out,
      '--quiet',
      '--threads',
      '1',
      '--input',
      `images=${raster}`,
      '--input',
      'name=TWICE',
      '--input',
      'tms=PM',
      '--input',
      'nodata=255',
      ...extra,
    );
  const first = await run('--input', 'mask=true');
  assert.equal(first.code, 0, first.stderr);
  const folder = path.join(out, 'pyramids', 'TWICE');
  const before = await fs.readFile(path.join(folder, 'TWICE.json'));

  const refused = await run('--input', 'mask=false');
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /TWICE.*already.*--overwrite/);
  assert.equal(refused.stdout, '');
  assert.deepEqual(await fs.readFile(path.join(folder, 'TWICE.json')), before, 'the old pyramid is untouched');

  const replaced = await run('--input', 'mask=false', '--overwrite');
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.equal((JSON.parse(replaced.stdout) as { type_infos: { mask: boolean } }).type_infos.mask, false);
  // The old pyramid's masks are gone with it: nothing of the first run stays beside the second.
  assert.equal(existsSync(path.join(folder, 'TWICE', 'MASK')), false);
  assert.equal(existsSync(path.join(out, 'jobs')), false);
});

test('dallage execute exits 2 with the problem detail on bad input', async () => {
  const notTiff = path.join(dir, 'inputs', 'not-a.tif');
  await fs.writeFile(notTiff, 'this is not a TIFF');
  const bad = await dallage(
    'execute',
    'raster-to-pyramid',
    '--config',
    config,
    '--output-dir',
    path.join(dir, 'bad'),
    '--quiet',
    '--input',
    `images=${notTiff}`,
    '--input',
    'name=BAD',
    '--input',
    'tms=PM',
  );
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /images\[0\]|images/);
  assert.equal(bad.stdout, '');
  assert.ok(!existsSync(path.join(dir, 'bad', 'pyramids', 'BAD')));

  const missing = await dallage(
    'execute',
    'raster-to-pyramid',
    '--config',
    config,
    '--quiet',
    '--input',
    `images=${path.join(dir, 'nowhere.tif')}`,
    '--input',
    'name=X',
    '--input',
    'tms=PM',
  );
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no readable file at .* under the input roots/);

  const unknownTms = await dallage(
    'execute',
    'raster-to-pyramid',
    '--config',
    config,
    '--quiet',
    '--input',
    `images=${raster}`,
    '--input',
    'name=X',
    '--input',
    'tms=NOPE',
  );
  assert.equal(unknownTms.code, 2);
  assert.match(unknownTms.stderr, /tms/);

  const noProcess = await dallage('execute', 'no-such-process', '--config', config, '--quiet');
  assert.equal(noProcess.code, 2);
  assert.match(noProcess.stderr, /no-such-process|No such process/);

  const usage = await dallage('execute');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage/);
});

test('parseCliArgs: copy-stored-data takes an id, --to, --name, --path-depth, --config; what is missing or wrong is a usage error', () => {
  assert.deepEqual(parseCliArgs(['copy-stored-data', 'abc', '--to', 's3', '--name', 'N', '--path-depth', '3', '--config', 'c.yml', '-q']), {
    command: 'copy-stored-data',
    id: 'abc',
    to: 's3',
    name: 'N',
    pathDepth: 3,
    config: 'c.yml',
    quiet: true,
  });
  assert.throws(() => parseCliArgs(['copy-stored-data', '--to', 's3']), /needs the id/);
  assert.throws(() => parseCliArgs(['copy-stored-data', 'abc']), /needs --to/);
  assert.throws(() => parseCliArgs(['copy-stored-data', 'abc', 'def', '--to', 's3']), /one stored data id/);
  assert.throws(() => parseCliArgs(['copy-stored-data', 'abc', '--to', 's3', '--path-depth', '0']), /--path-depth/);
  assert.throws(() => parseCliArgs(['copy-stored-data', 'abc', '--to', 's3', '--overwrite']), /unknown option/);
});

test('parseCliArgs: worker with --config, --concurrency, --threads; bad values are usage errors', () => {
  assert.deepEqual(parseCliArgs(['worker']), { command: 'worker', concurrency: 1 });
  assert.deepEqual(parseCliArgs(['worker', '--config', 'c.yml', '--concurrency', '3', '--threads', '0']), {
    command: 'worker',
    config: 'c.yml',
    concurrency: 3,
    threads: 0,
  });
  assert.throws(() => parseCliArgs(['worker', '--concurrency', '0']), UsageError);
  assert.throws(() => parseCliArgs(['worker', '--threads', '-1']), UsageError);
  assert.throws(() => parseCliArgs(['worker', 'extra']), UsageError);
});
