import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import YAML from 'yaml';

/** The typed configuration (config.yml). Relative paths are resolved against the working directory. */
export interface Config {
  server: {
    /** Public base URL; empty = derived from each request's Host header. */
    url: string;
    host: string;
    port: number;
    /**
     * Seconds a SIGTERM/SIGINT waits for running jobs to stop (aborted, marked failed, partial output
     * removed) and the stores to be written, before the process exits anyway.
     */
    shutdown_timeout: number;
    limits: {
      /** Maximum execute request body, bytes. */
      body_size: number;
      /** Async jobs running at once; others wait in the queue. */
      max_running_jobs: number;
      /** Maximum bytes fetched for one http(s) href. */
      href_max_bytes: number;
      /** Maximum pixels (width × height × images) a raster process accepts. */
      max_pixels: number;
      /** Maximum estimated bytes one job may write (a pyramid's uncompressed size, see src/pyramid/output-estimate.ts). */
      max_output_bytes: number;
      /** Bytes that must stay free on the storage once a job's estimated output is written. */
      min_free_bytes: number;
      /** Largest WMS GetMap side (WIDTH, HEIGHT), pixels: bounds a map's memory (width × height × 4 bytes). */
      wms_max_size: number;
      /**
       * WMS maps in the worker pool at once (drawn, or next in line for a thread); the others wait (bounded
       * memory under load, src/services/map-gate.ts). 0 = twice the pool's threads.
       */
      wms_concurrent_maps: number;
      /** Bytes of served tiles kept in memory for the next requests of them (src/services/tile-cache.ts; 0 = none). */
      tile_cache_bytes: number;
    };
    /** Cross-origin access for browser pages of other sites (src/api/cors.ts). */
    cors: { allowed_origins: string[]; allowed_methods: string[] };
  };
  /**
   * Where jobs (and records) live and where they run. `lowdb` (default) and `memory` run jobs in the server;
   * `bullmq` (issue 14) keeps them in Redis (`connection`: a redis:// URL, env DALLAGE_REDIS_URL) and runs
   * them in `dallage worker` processes.
   */
  manager: {
    name: 'lowdb' | 'memory' | 'bullmq';
    connection: string;
    /** bullmq: first part of every Redis key (several deployments can share one Redis). */
    prefix: string;
    /** bullmq: runs of one job at most when its workers die (SIGKILL, a lost machine) before it ends. */
    attempts: number;
    /** bullmq: seconds after which the job of a dead worker is taken again by another (its lock expires). */
    stalled_seconds: number;
    /** bullmq: bottom slabs from which a pyramid is cut into parts run by any worker (0 = never cut). */
    split_slabs: number;
    /** bullmq: parts a cut pyramid is divided into at most (subtrees below a cut level; a finisher computes the levels above). */
    split_parts: number;
  };
  /**
   * The default storage: `storages[default_storage]` (the one named `default` when config.yml has the single
   * `storage:` section). Jobs' results, uploads and catalogs live there; processes write there unless their
   * `storage` input names another.
   */
  storage: StorageConfig;
  /** Every configured storage by name (issue 13): `storages:` of config.yml, or `{default: storage}`. */
  storages: Record<string, StorageConfig>;
  /** The name of the default storage in `storages`. */
  default_storage: string;
  pool: { threads: number; idle_timeout: number };
  processes: Record<string, { plugin: string; options: Record<string, unknown> }>;
  security: {
    /** Folders from which `file:` hrefs may be read. */
    input_roots: string[];
    /** Hosts that http(s) hrefs and subscriber callbacks may reach (exact names, or `*.domain`). */
    allowed_hosts: string[];
    /** Allow loopback and private addresses for hrefs and callbacks (tests, closed networks). */
    allow_internal: boolean;
    /** Not from YAML: a resolver used instead of the system's DNS (tests answer names without real DNS). */
    resolve?: (hostname: string) => Promise<string[]>;
  };
  logging: { enabled: boolean };
  /** Deliveries (issue 11, src/uploads): limits of what users may send. */
  uploads: {
    /** Files one upload may hold. */
    max_files: number;
    /** Bytes of one file. */
    max_file_size: number;
    /** Bytes of one upload (all its files). */
    max_upload_size: number;
    /** Bytes of all uploads together on the storage. */
    quota: number;
  };
  /** Folders holding extra ROK4 tile matrix set files. */
  tms_folders: string[];
}

/**
 * Where products live (src/storage). `path` is a local folder in both cases: the FILE storage's root, or
 * for S3 the server's local working files (upload parts) beside the bucket.
 */
export type StorageConfig = { type: 'file'; path: string } | S3StorageConfig;

/** S3 storage (issue 13): objects `<prefix><key>` of `bucket` at `endpoint`, through the minio client. */
export interface S3StorageConfig {
  type: 's3';
  path: string;
  /** `http(s)://host[:port]` */
  endpoint: string;
  bucket: string;
  access_key: string;
  secret_key: string;
  region: string;
  /** '' or ending with '/': every key is stored as `<prefix><key>`. */
  prefix: string;
  /** Create the bucket at start-up when it does not exist (else a start-up error). */
  create_bucket: boolean;
}

/** Environment variables that override the S3 storage keys (issue 13), applied after `${VAR}` substitution. */
export const S3_ENV_OVERRIDES = {
  endpoint: 'DALLAGE_S3_ENDPOINT',
  bucket: 'DALLAGE_S3_BUCKET',
  access_key: 'DALLAGE_S3_ACCESS_KEY',
  secret_key: 'DALLAGE_S3_SECRET_KEY',
} as const;

const processEntry = {
  oneOf: [
    { type: 'string', minLength: 1 },
    {
      type: 'object',
      required: ['plugin'],
      additionalProperties: false,
      properties: { plugin: { type: 'string', minLength: 1 }, options: { type: 'object', default: {} } },
    },
  ],
};

/** One storage section (`storage`, or an entry of `storages`); type-specific keys are checked by storageConfig. */
const storageSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { enum: ['file', 's3'], default: 'file' },
    path: { type: 'string' },
    endpoint: { type: 'string', pattern: '^https?://[^/\\s]+/?$' },
    bucket: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' },
    access_key: { type: 'string' },
    secret_key: { type: 'string' },
    region: { type: 'string', minLength: 1 },
    prefix: { type: 'string', pattern: '^$|^[^/].*/$' },
    create_bucket: { type: 'boolean' },
  },
} as const;

/** JSON Schema of config.yml, with defaults (ajv `useDefaults`). */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['processes'],
  properties: {
    server: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        url: { type: 'string', default: '' },
        host: { type: 'string', default: '0.0.0.0' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 5000 },
        shutdown_timeout: { type: 'number', minimum: 0, maximum: 3600, default: 10 },
        limits: {
          type: 'object',
          default: {},
          additionalProperties: false,
          properties: {
            body_size: { type: 'integer', minimum: 1024, default: 64 * 1024 * 1024 },
            max_running_jobs: { type: 'integer', minimum: 1, default: 2 },
            href_max_bytes: { type: 'integer', minimum: 1, default: 4 * 1024 * 1024 * 1024 },
            max_pixels: { type: 'integer', minimum: 1, default: 4_000_000_000 },
            max_output_bytes: { type: 'integer', minimum: 1, default: 1024 ** 4 },
            min_free_bytes: { type: 'integer', minimum: 0, default: 1024 ** 3 },
            wms_max_size: { type: 'integer', minimum: 16, maximum: 16384, default: 4096 },
            wms_concurrent_maps: { type: 'integer', minimum: 0, maximum: 256, default: 0 },
            tile_cache_bytes: { type: 'integer', minimum: 0, default: 64 * 1024 * 1024 },
          },
        },
        cors: {
          type: 'object',
          default: {},
          additionalProperties: false,
          properties: {
            allowed_origins: { type: 'array', items: { type: 'string', pattern: '^(\\*|https?://[^/\\s]+)$' }, default: ['*'] },
            allowed_methods: {
              type: 'array',
              items: { enum: ['GET', 'HEAD', 'POST', 'DELETE'] },
              uniqueItems: true,
              default: ['GET', 'HEAD'],
            },
          },
        },
      },
    },
    manager: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        name: { enum: ['lowdb', 'memory', 'bullmq'], default: 'lowdb' },
        connection: { type: 'string', default: './data/jobs' },
        prefix: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', default: 'dallage' },
        attempts: { type: 'integer', minimum: 1, default: 2 },
        stalled_seconds: { type: 'number', minimum: 1, default: 30 },
        split_slabs: { type: 'integer', minimum: 0, default: 4096 },
        split_parts: { type: 'integer', minimum: 2, default: 16 },
      },
    },
    storage: { ...storageSchema, default: {} },
    storages: {
      type: 'object',
      minProperties: 1,
      additionalProperties: storageSchema,
      propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' },
    },
    default_storage: { type: 'string', minLength: 1 },
    pool: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        threads: { type: 'integer', minimum: 0, default: 0 },
        idle_timeout: { type: 'number', minimum: 0, default: 30 },
      },
    },
    processes: { type: 'object', minProperties: 1, additionalProperties: processEntry, propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' } },
    security: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        input_roots: { type: 'array', items: { type: 'string' }, default: ['./data/inputs'] },
        allowed_hosts: { type: 'array', items: { type: 'string' }, default: [] },
        allow_internal: { type: 'boolean', default: false },
      },
    },
    logging: { type: 'object', default: {}, additionalProperties: false, properties: { enabled: { type: 'boolean', default: true } } },
    uploads: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        max_files: { type: 'integer', minimum: 1, default: 10000 },
        max_file_size: { type: 'integer', minimum: 1, default: 50 * 1024 ** 3 },
        max_upload_size: { type: 'integer', minimum: 1, default: 200 * 1024 ** 3 },
        quota: { type: 'integer', minimum: 1, default: 1024 ** 4 },
      },
    },
    tms_folders: { type: 'array', items: { type: 'string' }, default: [] },
  },
} as const;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const ENV_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in string scalars. A scalar that is exactly one such
 * expression takes the YAML type of its value, so `port: ${PORT:-5000}` is the integer 5000.
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/.exec(value);
    const replaced = value.replace(ENV_PATTERN, (_m, name: string, def: string | undefined) => env[name] ?? def ?? '');
    return whole ? (YAML.parse(replaced === '' ? '""' : replaced) ?? replaced) : replaced;
  }
  if (Array.isArray(value)) return value.map((v) => substituteEnv(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env)]));
  }
  return value;
}

const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false });
const validateConfig = ajv.compile(CONFIG_SCHEMA);

/** Parses, substitutes and validates a config text; throws a ConfigError naming the bad key. */
export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env, source = 'config'): Config {
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  const data = substituteEnv(raw ?? {}, env) as Record<string, unknown>;
  if (!validateConfig(data)) {
    const e = validateConfig.errors![0];
    const key = (e.instancePath || '').replace(/^\//, '').replace(/\//g, '.') || '(top level)';
    const extra =
      e.params && 'additionalProperty' in e.params ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'` : '';
    throw new ConfigError(`${source}: invalid key ${key}: ${e.message}${extra}`);
  }
  const config = data as unknown as Config;
  const given = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  namedStorages(config, 'storages' in given, 'storage' in given, env, source);
  for (const [id, entry] of Object.entries(config.processes)) {
    config.processes[id] =
      typeof entry === 'string' ? { plugin: entry, options: {} } : { plugin: entry.plugin, options: entry.options ?? {} };
  }
  if (config.manager.name === 'bullmq') {
    config.manager.connection = env.DALLAGE_REDIS_URL || config.manager.connection;
    if (!/^rediss?:\/\//.test(config.manager.connection))
      throw new ConfigError(`${source}: invalid key manager.connection: the bullmq manager needs a redis:// URL (or DALLAGE_REDIS_URL)`);
  } else config.manager.connection = path.resolve(config.manager.connection);
  for (const storage of Object.values(config.storages)) storage.path = path.resolve(storage.path);
  const paths = Object.entries(config.storages).map(([name, s]) => [name, s.path]);
  for (const [i, [name, folder]] of paths.entries()) {
    const other = paths.slice(0, i).find(([, p]) => p === folder);
    if (other) throw new ConfigError(`${source}: invalid key storages.${name}.path: the same folder as storages.${other[0]} (${folder})`);
  }
  config.security.input_roots = config.security.input_roots.map((p) => path.resolve(p));
  config.tms_folders = config.tms_folders.map((p) => path.resolve(p));
  return config;
}

/**
 * Sets `storages`, `default_storage` and `storage` (the default one). Either the single `storage:` section
 * (then the storage named `default`, exactly as before named storages) or `storages:` + `default_storage:`
 * (optional when there is one storage); both at once is an error. The DALLAGE_S3_* overrides apply to one S3
 * storage: the default one when it is S3, else the only S3 storage (several other S3 storages take their
 * values from `${VAR}` in config.yml).
 */
function namedStorages(config: Config, hasNamed: boolean, hasSingle: boolean, env: NodeJS.ProcessEnv, source: string): void {
  if (!hasNamed) {
    if (config.default_storage !== undefined && config.default_storage !== 'default')
      throw new ConfigError(
        `${source}: invalid key default_storage: no storage '${config.default_storage}' (only storages: names storages)`,
      );
    config.storages = { default: config.storage };
    config.default_storage = 'default';
  } else if (hasSingle) {
    throw new ConfigError(`${source}: invalid key storage: give either storage or storages, not both`);
  }
  const names = Object.keys(config.storages);
  if (config.default_storage === undefined) {
    if (names.length !== 1)
      throw new ConfigError(`${source}: invalid key default_storage: required with several storages (one of ${names.join(', ')})`);
    config.default_storage = names[0];
  }
  if (!names.includes(config.default_storage))
    throw new ConfigError(`${source}: invalid key default_storage: no storage '${config.default_storage}' (one of ${names.join(', ')})`);
  const s3Names = names.filter((n) => config.storages[n].type === 's3');
  const overridden = s3Names.includes(config.default_storage) ? config.default_storage : s3Names.length === 1 ? s3Names[0] : undefined;
  for (const name of names) {
    const key = hasNamed ? `storages.${name}` : 'storage';
    const raw = config.storages[name] as unknown as Record<string, unknown>;
    if (raw.path === undefined) raw.path = hasNamed ? `./data/${name}` : './data/store';
    config.storages[name] = storageConfig(raw, name === overridden ? env : {}, key, source);
  }
  config.storage = config.storages[config.default_storage];
}

/** One storage section with S3 environment overrides and defaults applied; S3 keys are refused on a file storage. */
function storageConfig(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, key: string, source: string): StorageConfig {
  const s3Keys = ['endpoint', 'bucket', 'access_key', 'secret_key', 'region', 'prefix', 'create_bucket'];
  if (raw.type !== 's3') {
    const stray = s3Keys.find((k) => k in raw);
    if (stray) throw new ConfigError(`${source}: invalid key ${key}.${stray}: only for ${key}.type s3`);
    return { type: 'file', path: raw.path as string };
  }
  const s3: Record<string, unknown> = { region: 'us-east-1', prefix: '', create_bucket: false, ...raw };
  for (const [k, variable] of Object.entries(S3_ENV_OVERRIDES)) if (env[variable]) s3[k] = env[variable];
  for (const k of ['endpoint', 'bucket', 'access_key', 'secret_key'] as const) {
    if (typeof s3[k] !== 'string' || s3[k] === '')
      throw new ConfigError(`${source}: invalid key ${key}.${k}: required for ${key}.type s3 (or ${S3_ENV_OVERRIDES[k]})`);
  }
  if (!/^https?:\/\/[^/\s]+\/?$/.test(s3.endpoint as string))
    throw new ConfigError(`${source}: invalid key ${key}.endpoint: must be http(s)://host[:port]`);
  return s3 as unknown as S3StorageConfig;
}

/** Loads `DALLAGE_CONFIG` or ./config.yml. */
export function loadConfig(file = process.env.DALLAGE_CONFIG ?? 'config.yml', env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, env, file);
}
