import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseConfig, substituteEnv } from '../src/config.js';

function configError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ConfigError && pattern.test(e.message), `expected a ConfigError matching ${pattern}`);
}

test('${VAR:-default}: a whole-value expression takes the YAML type of its value', () => {
  assert.equal(substituteEnv('${PORT:-5000}', {}), 5000);
  assert.equal(substituteEnv('${PORT:-5000}', { PORT: '8080' }), 8080);
  assert.equal(substituteEnv('${LOG:-true}', {}), true);
  assert.equal(substituteEnv('${LOG:-true}', { LOG: 'false' }), false);
  assert.equal(substituteEnv('${RATE:-0.5}', {}), 0.5);
  assert.equal(substituteEnv('${URL:-}', {}), '');
  assert.equal(substituteEnv('${NAME}', { NAME: 'abc' }), 'abc');
  assert.equal(substituteEnv('${NAME}', {}), '');
  // Embedded expressions stay strings.
  assert.equal(substituteEnv('${DATA:-./data}/jobs', {}), './data/jobs');
  assert.equal(substituteEnv('${DATA:-./data}/jobs', { DATA: '/srv' }), '/srv/jobs');
  assert.equal(substituteEnv('port-${PORT:-5000}', {}), 'port-5000');
  assert.deepEqual(substituteEnv({ a: ['${X:-1}', { b: '${Y:-true}' }] }, { Y: 'false' }), { a: [1, { b: false }] });
  // An environment value is data, not YAML to be expanded into structures.
  assert.equal(typeof substituteEnv('${X}', { X: 'plain text' }), 'string');
});

test('parseConfig: defaults filled, paths resolved, process shorthand expanded, env typed', () => {
  const c = parseConfig('server:\n  port: ${PORT:-5000}\nprocesses:\n  echo: echo\n  hi: { plugin: hello-world, options: { a: 1 } }\n', {
    PORT: '6001',
  });
  assert.equal(c.server.port, 6001);
  assert.equal(c.server.host, '0.0.0.0');
  assert.equal(c.server.limits.max_running_jobs, 2);
  assert.equal(c.server.limits.wms_max_size, 4096);
  assert.equal(c.server.limits.wms_concurrent_maps, 0, 'twice the pool threads');
  assert.equal(c.server.limits.tile_cache_bytes, 64 * 1024 * 1024);
  assert.equal(c.manager.name, 'lowdb');
  assert.equal(c.manager.connection, path.resolve('./data/jobs'));
  assert.deepEqual(c.processes.echo, { plugin: 'echo', options: {} });
  assert.deepEqual(c.processes.hi, { plugin: 'hello-world', options: { a: 1 } });
  assert.deepEqual(c.security.input_roots, [path.resolve('./data/inputs')]);
  assert.equal(c.security.allow_internal, false);
});

test('a bad config is refused with a message naming the key', () => {
  configError(() => parseConfig('server:\n  port: ${PORT:-5000}\nprocesses: { echo: echo }\n', { PORT: 'eighty' }), /server\.port/);
  configError(() => parseConfig('server:\n  prot: 5000\nprocesses: { echo: echo }\n'), /server.*'prot'/);
  configError(
    () => parseConfig('server:\n  limits: { max_running_jobs: 0 }\nprocesses: { echo: echo }\n'),
    /server\.limits\.max_running_jobs/,
  );
  configError(
    () => parseConfig('server:\n  limits: { wms_max_size: 100000 }\nprocesses: { echo: echo }\n'),
    /server\.limits\.wms_max_size/,
  );
  configError(
    () => parseConfig('server:\n  limits: { wms_concurrent_maps: -1 }\nprocesses: { echo: echo }\n'),
    /server\.limits\.wms_concurrent_maps/,
  );
  configError(() => parseConfig('manager: { name: mongodb }\nprocesses: { echo: echo }\n'), /manager\.name/);
  configError(() => parseConfig('security: { allow_internal: maybe }\nprocesses: { echo: echo }\n'), /security\.allow_internal/);
  configError(() => parseConfig('processes: {}\n'), /processes/);
  configError(() => parseConfig('server: {}\n'), /processes/);
  configError(() => parseConfig('processes: [echo\n'), /not valid YAML/);
});

test('DALLAGE_CONFIG names the file; the default config.yml is valid with an empty environment', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-config-'));
  const saved = process.env.DALLAGE_CONFIG;
  try {
    const file = path.join(dir, 'other.yml');
    await writeFile(file, 'server: { port: 7001 }\nprocesses: { echo: echo }\n');
    process.env.DALLAGE_CONFIG = file;
    assert.equal(loadConfig().server.port, 7001);
    process.env.DALLAGE_CONFIG = path.join(dir, 'missing.yml');
    configError(() => loadConfig(), /missing\.yml/);
    delete process.env.DALLAGE_CONFIG;
    const defaults = parseConfig(await readFile('config.yml', 'utf8'), {});
    assert.equal(defaults.server.port, 5000);
    assert.equal(defaults.logging.enabled, true);
    assert.equal(defaults.manager.connection, path.resolve('./data/jobs'));
    assert.deepEqual(defaults.security.input_roots, [path.resolve('./data/inputs')]);
    assert.ok('echo' in defaults.processes && 'hello-world' in defaults.processes);
    const env = parseConfig(await readFile('config.yml', 'utf8'), { PORT: '6000', DALLAGE_DATA: '/srv/d', DALLAGE_INPUT_ROOT: '/in' });
    assert.equal(env.server.port, 6000);
    assert.equal(env.manager.connection, '/srv/d/jobs');
    assert.deepEqual(env.security.input_roots, ['/in']);
    // The compose file's deployment: S3 storage from the environment alone (docker-compose.yml).
    const s3 = parseConfig(await readFile('config.yml', 'utf8'), {
      DALLAGE_STORAGE_TYPE: 's3',
      DALLAGE_S3_ENDPOINT: 'http://s3:9000',
      DALLAGE_S3_BUCKET: 'dallage',
      DALLAGE_S3_ACCESS_KEY: 'k',
      DALLAGE_S3_SECRET_KEY: 's',
    });
    assert.equal(s3.storage.type, 's3');
    assert.equal(s3.storage.type === 's3' && s3.storage.bucket, 'dallage');
    assert.equal(defaults.storage.type, 'file');
  } finally {
    if (saved === undefined) delete process.env.DALLAGE_CONFIG;
    else process.env.DALLAGE_CONFIG = saved;
    await rm(dir, { recursive: true, force: true });
  }
});

test('storage type s3 (issue 13): keys, defaults, DALLAGE_S3_* overrides; missing or misplaced keys named', () => {
  const yaml =
    'processes: { echo: echo }\nstorage:\n  type: s3\n  path: ./work\n  endpoint: http://127.0.0.1:9000\n  bucket: dallage\n  access_key: a\n  secret_key: s\n';
  const c = parseConfig(yaml, {});
  assert.deepEqual(c.storage, {
    type: 's3',
    path: path.resolve('./work'),
    endpoint: 'http://127.0.0.1:9000',
    bucket: 'dallage',
    access_key: 'a',
    secret_key: 's',
    region: 'us-east-1',
    prefix: '',
    create_bucket: false,
  });
  const o = parseConfig(yaml, {
    DALLAGE_S3_ENDPOINT: 'http://[::1]:9100',
    DALLAGE_S3_BUCKET: 'other',
    DALLAGE_S3_ACCESS_KEY: 'A2',
    DALLAGE_S3_SECRET_KEY: 'S2',
  });
  assert.equal(o.storage.type, 's3');
  if (o.storage.type === 's3') {
    assert.equal(o.storage.endpoint, 'http://[::1]:9100');
    assert.equal(o.storage.bucket, 'other');
    assert.equal(o.storage.access_key, 'A2');
    assert.equal(o.storage.secret_key, 'S2');
  }
  // The environment alone may give the keys.
  const env = parseConfig('processes: { echo: echo }\nstorage: { type: s3 }\n', {
    DALLAGE_S3_ENDPOINT: 'https://s3.example.org',
    DALLAGE_S3_BUCKET: 'b-1',
    DALLAGE_S3_ACCESS_KEY: 'k',
    DALLAGE_S3_SECRET_KEY: 's',
  });
  assert.equal(env.storage.type === 's3' && env.storage.endpoint, 'https://s3.example.org');
  configError(
    () => parseConfig('processes: { echo: echo }\nstorage: { type: s3, endpoint: "http://h:1", bucket: bkt }\n', {}),
    /storage\.access_key: required for storage\.type s3 \(or DALLAGE_S3_ACCESS_KEY\)/,
  );
  configError(
    () => parseConfig('processes: { echo: echo }\nstorage: { type: file, bucket: bkt }\n', {}),
    /storage\.bucket: only for storage\.type s3/,
  );
  configError(() => parseConfig('processes: { echo: echo }\nstorage: { type: s3, prefix: "/abs/" }\n', {}), /storage\.prefix/);
  configError(() => parseConfig('processes: { echo: echo }\nstorage: { type: s3, endpoint: "ftp://h" }\n', {}), /storage\.endpoint/);
  configError(() => parseConfig('processes: { echo: echo }\nstorage: { type: swift }\n', {}), /storage\.type/);
});

test('named storages (issue 13): storages + default_storage; the single storage is the one named default; env overrides on one S3 storage; errors named', () => {
  const P = 'processes: { echo: echo }\n';
  const single = parseConfig(P + 'storage: { path: ./one }\n', {});
  assert.equal(single.default_storage, 'default');
  assert.deepEqual(Object.keys(single.storages), ['default']);
  assert.equal(single.storages.default, single.storage);
  assert.equal(single.storage.path, path.resolve('./one'));
  assert.equal(parseConfig(P, {}).storage.path, path.resolve('./data/store'));
  const S3 = 'endpoint: "http://127.0.0.1:9000", access_key: a, secret_key: s';
  const named = `${P}storages:\n  disk: { type: file, path: ./disk }\n  obj: { type: s3, bucket: one, ${S3} }\n  obj2: { type: s3, bucket: two, ${S3} }\ndefault_storage: obj\n`;
  const env = { DALLAGE_S3_BUCKET: 'over', DALLAGE_S3_ENDPOINT: 'http://[::1]:1' };
  const c = parseConfig(named, env);
  assert.equal(c.default_storage, 'obj');
  assert.equal(c.storage, c.storages.obj);
  assert.deepEqual(c.storages.disk, { type: 'file', path: path.resolve('./disk') });
  // The overrides apply to the default storage when it is S3 …
  assert.equal(c.storages.obj.type === 's3' && c.storages.obj.bucket, 'over');
  assert.equal(c.storages.obj.type === 's3' && c.storages.obj.endpoint, 'http://[::1]:1');
  assert.equal(c.storages.obj2.type === 's3' && c.storages.obj2.bucket, 'two');
  assert.equal(c.storages.obj2.path, path.resolve('./data/obj2'));
  // … else to the only S3 storage.
  const fileFirst = parseConfig(
    `${P}storages:\n  disk: { path: ./disk }\n  obj: { type: s3, bucket: one, ${S3} }\ndefault_storage: disk\n`,
    env,
  );
  assert.equal(fileFirst.storage.type, 'file');
  assert.equal(fileFirst.storages.obj.type === 's3' && fileFirst.storages.obj.bucket, 'over');
  // One named storage needs no default_storage.
  assert.equal(parseConfig(`${P}storages: { only: { path: ./o } }\n`, {}).default_storage, 'only');
  configError(
    () => parseConfig(`${P}storages: { a: { path: ./a }, b: { path: ./b } }\n`, {}),
    /default_storage: required with several storages \(one of a, b\)/,
  );
  configError(
    () => parseConfig(`${P}storages: { a: { path: ./a } }\ndefault_storage: z\n`, {}),
    /default_storage: no storage 'z' \(one of a\)/,
  );
  configError(() => parseConfig(`${P}default_storage: z\n`, {}), /default_storage: no storage 'z'/);
  configError(
    () => parseConfig(`${P}storage: { path: ./a }\nstorages: { a: { path: ./a } }\n`, {}),
    /storage: give either storage or storages, not both/,
  );
  configError(
    () => parseConfig(`${P}storages: { a: { path: ./x }, b: { path: ./x } }\ndefault_storage: a\n`, {}),
    /storages\.b\.path: the same folder as storages\.a/,
  );
  configError(
    () => parseConfig(`${P}storages: { a: { type: s3, bucket: bkt } }\n`, {}),
    /storages\.a\.endpoint: required for storages\.a\.type s3/,
  );
  configError(
    () => parseConfig(`${P}storages: { a: { type: file, bucket: bkt } }\n`, {}),
    /storages\.a\.bucket: only for storages\.a\.type s3/,
  );
  configError(() => parseConfig(`${P}storages: { a: { type: swift } }\n`, {}), /storages\.a\.type/);
  configError(() => parseConfig(`${P}storages: { "a b": { path: ./a } }\n`, {}), /storages/);
  configError(() => parseConfig(`${P}storages: {}\n`, {}), /storages/);
});

test('manager bullmq: a redis:// connection (DALLAGE_REDIS_URL wins), prefix/attempts/stalled_seconds/split defaults; a folder is refused', () => {
  const P = 'processes: {echo: echo}\n';
  const c = parseConfig(P + 'manager: {name: bullmq, connection: "redis://127.0.0.1:6379"}', {});
  assert.deepEqual(c.manager, {
    name: 'bullmq',
    connection: 'redis://127.0.0.1:6379',
    prefix: 'dallage',
    attempts: 2,
    stalled_seconds: 30,
    split_slabs: 4096,
    split_parts: 16,
  });
  configError(() => parseConfig(P + 'manager: {name: bullmq, connection: "redis://h", split_parts: 1}', {}), /manager\.split_parts/);
  const env = parseConfig(P + 'manager: {name: bullmq, connection: ./data/jobs, prefix: p1}', {
    DALLAGE_REDIS_URL: 'redis://10.0.0.1:6380/2',
  });
  assert.equal(env.manager.connection, 'redis://10.0.0.1:6380/2');
  assert.equal(env.manager.prefix, 'p1');
  configError(
    () => parseConfig(P + 'manager: {name: bullmq, connection: ./data/jobs}', {}),
    /manager\.connection: the bullmq manager needs a redis:\/\/ URL/,
  );
  configError(() => parseConfig(P + 'manager: {name: bullmq, connection: "redis://h", prefix: "a b"}', {}), /manager\.prefix/);
  configError(() => parseConfig(P + 'manager: {name: bullmq, connection: "redis://h", attempts: 0}', {}), /manager\.attempts/);
  // The embedded managers keep a folder, resolved; DALLAGE_REDIS_URL does not concern them.
  assert.equal(
    parseConfig(P + 'manager: {name: lowdb, connection: jobs}', { DALLAGE_REDIS_URL: 'redis://h' }).manager.connection,
    path.resolve('jobs'),
  );
});
