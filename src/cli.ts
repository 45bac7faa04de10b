/**
 * The `dallage` command line (issue 3, "command line"): `dallage serve` starts the server,
 * `dallage execute <process> --input id=value …` runs one process in-process (same runtime as the
 * server, a memory job store, a progress bar on stderr, the outputs on stdout in HTTP's raw shape), for scripts
 * and benchmarks.
 *
 * Exit codes: 0 success, 1 the execution failed, 2 bad usage or bad input (the 400s of the API).
 */
import { existsSync, realpathSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApiError, invalidInput, toProblem, type Problem } from './errors.js';
import { ConfigError, loadConfig, parseConfig, type Config } from './config.js';
import { isBinarySchema } from './process/execute-request.js';
import { builtinNames, type RegisteredProcess } from './process/registry.js';
import { createRuntime, type Runtime } from './runtime.js';
import { FolderLockError, lockFolder, lockFolders } from './folder-lock.js';
import { silentLogger } from './log.js';
import { documentValue, type OutputData } from './manager/outputs.js';
import { CATALOG_TYPE } from './catalog/catalog.js';
import { deletePyramidFiles, newPyramidLocation } from './pyramid/location.js';

export const USAGE = `usage:
  dallage serve [--config FILE]
      starts the OGC API - Processes server (same as npm start)
  dallage worker [--config FILE] [--concurrency N] [--threads N]
      runs jobs of the bullmq manager (manager.name: bullmq, Redis at manager.connection or
      $DALLAGE_REDIS_URL) taken from the queue the servers fill, until SIGTERM/SIGINT
      --concurrency N    jobs at once (default 1)
      --threads N        raster threads (default: the config's pool.threads, 0 = one per CPU)
  dallage execute <process> --input id=value [--input id=value …] [options]
      runs a process in-process and prints its outputs on stdout, as HTTP's raw answer does:
      one output is itself (a JSON record, text, bytes), several are a JSON results document
      --input id=value   one input value; repeat an id to give several values (an array).
                         Values that parse as JSON are JSON (true, 255, [1,2]), others are strings.
                         For file inputs (images=…) the value is a path (or a file:/http(s): URL);
                         the folders of the paths given are allowed as input roots.
      --output-dir DIR   storage folder of the outputs (default: the config's storage.path)
      --overwrite        replace a pyramid of the same name there (else the run is refused)
      --config FILE      configuration (default: $DALLAGE_CONFIG, ./config.yml, or built-in defaults)
      --threads N        worker threads (default: the config's pool.threads, 0 = one per CPU)
      --quiet            no progress bar
  dallage copy-stored-data <id> --to <storage> [--name NAME] [--path-depth N] [--config FILE] [--quiet]
      copies a READY pyramid or raster catalog (stored data <id>) to another configured storage as a
      new stored data (the process pyramid-copy or catalog-copy, run here with the server's records;
      stop the server first, or execute the process through it). Slabs a pyramid references in
      others refer to their copy on the target when there is one, else are copied too.
      --to STORAGE       name of the target storage (config.yml storages)
      --name NAME        name of the copy (default: <name of the source>_<STORAGE>)
      --path-depth N     directory depth of the copy on a FILE storage (default: the source's, else 2)
  dallage --help

example:
  dallage execute raster-to-pyramid --input images=scan.tif --input name=SCAN --input tms=PM \\
    --input compression=jpg90 --input mask=true --input nodata=255 --output-dir ./pyramids

exit codes: 0 done, 1 the execution failed, 2 bad usage or bad input`;

/** A usage problem (exit 2, no problem document). */
export class UsageError extends Error {}

export interface ExecuteArgs {
  process: string;
  /** Input id → raw command-line values, in order. */
  inputs: Map<string, string[]>;
  outputDir?: string;
  config?: string;
  threads?: number;
  quiet: boolean;
  /** Replace a pyramid of the same name in the storage folder (else refused). */
  overwrite?: boolean;
}

/** `dallage copy-stored-data`: a pyramid copied to another storage (processes/pyramid-copy). */
export interface CopyArgs {
  id: string;
  to: string;
  name?: string;
  pathDepth?: number;
  config?: string;
  quiet: boolean;
}

export type CliCommand =
  | { command: 'help' }
  | ({ command: 'copy-stored-data' } & CopyArgs)
  | { command: 'serve'; config?: string }
  | { command: 'worker'; config?: string; concurrency: number; threads?: number }
  | ({ command: 'execute' } & ExecuteArgs);

function takeValue(argv: string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined) throw new UsageError(`${flag} needs a value`);
  return v;
}

/** Parses the command line (without `node` and the script). Throws UsageError. */
export function parseCliArgs(argv: string[]): CliCommand {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') return { command: 'help' };
  const [command, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) return { command: 'help' };
  if (command === 'serve') {
    let config: string | undefined;
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--config') config = takeValue(rest, i++, '--config');
      else throw new UsageError(`unknown argument '${rest[i]}' for serve`);
    }
    return { command: 'serve', config };
  }
  if (command === 'worker') {
    const cmd: CliCommand = { command: 'worker', concurrency: 1 };
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i];
      if (a === '--config') cmd.config = takeValue(rest, i++, a);
      else if (a === '--concurrency' || a === '--threads') {
        const n = Number(takeValue(rest, i++, a));
        if (!Number.isInteger(n) || n < (a === '--threads' ? 0 : 1))
          throw new UsageError(`${a} takes an integer ≥ ${a === '--threads' ? 0 : 1}`);
        if (a === '--threads') cmd.threads = n;
        else cmd.concurrency = n;
      } else throw new UsageError(`unknown argument '${a}' for worker`);
    }
    return cmd;
  }
  if (command === 'copy-stored-data') return parseCopyArgs(rest);
  if (command !== 'execute') throw new UsageError(`unknown command '${command}' (serve, worker, execute, copy-stored-data)`);
  const args: ExecuteArgs = { process: '', inputs: new Map(), quiet: false };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--input' || a === '-i') {
      const spec = takeValue(rest, i++, a);
      const eq = spec.indexOf('=');
      if (eq <= 0) throw new UsageError(`--input takes id=value, got '${spec}'`);
      const id = spec.slice(0, eq);
      args.inputs.set(id, [...(args.inputs.get(id) ?? []), spec.slice(eq + 1)]);
    } else if (a.startsWith('--input=')) {
      rest.splice(i + 1, 0, a.slice('--input='.length));
      rest[i] = '--input';
      i--;
    } else if (a === '--output-dir') args.outputDir = takeValue(rest, i++, a);
    else if (a === '--config') args.config = takeValue(rest, i++, a);
    else if (a === '--threads') {
      const n = Number(takeValue(rest, i++, a));
      if (!Number.isInteger(n) || n < 0) throw new UsageError('--threads takes an integer ≥ 0');
      args.threads = n;
    } else if (a === '--quiet' || a === '-q') args.quiet = true;
    else if (a === '--overwrite') args.overwrite = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
    else if (!args.process) args.process = a;
    else throw new UsageError(`unexpected argument '${a}' (inputs are given with --input id=value)`);
  }
  if (!args.process) throw new UsageError('execute needs a process id, e.g. dallage execute raster-to-pyramid …');
  return { command: 'execute', ...args };
}

function parseCopyArgs(rest: string[]): CliCommand {
  const args: Partial<CopyArgs> & { quiet: boolean } = { quiet: false };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--to') args.to = takeValue(rest, i++, a);
    else if (a === '--name') args.name = takeValue(rest, i++, a);
    else if (a === '--config') args.config = takeValue(rest, i++, a);
    else if (a === '--path-depth') {
      const n = Number(takeValue(rest, i++, a));
      if (!Number.isInteger(n) || n < 1) throw new UsageError('--path-depth takes an integer ≥ 1');
      args.pathDepth = n;
    } else if (a === '--quiet' || a === '-q') args.quiet = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown option '${a}' for copy-stored-data`);
    else if (!args.id) args.id = a;
    else throw new UsageError(`unexpected argument '${a}' (copy-stored-data takes one stored data id)`);
  }
  if (!args.id) throw new UsageError('copy-stored-data needs the id of a stored data');
  if (!args.to) throw new UsageError('copy-stored-data needs --to <storage name>');
  return { command: 'copy-stored-data', ...args, id: args.id, to: args.to };
}

/** A command-line value: JSON when it parses as JSON, else the string itself. */
export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * The configuration of a command: the file given, else $DALLAGE_CONFIG or ./config.yml when present,
 * else the built-in defaults. The process asked for is added when the file does not list it and it
 * is a built-in plugin.
 */
export function cliConfig(file: string | undefined, processId?: string): Config {
  let config: Config;
  if (file) config = loadConfig(file);
  else if (process.env.DALLAGE_CONFIG || existsSync('config.yml')) config = loadConfig(process.env.DALLAGE_CONFIG || 'config.yml');
  else config = parseConfig(`processes:\n  ${processId ?? 'echo'}: ${processId ?? 'echo'}\n`, process.env, 'defaults');
  if (processId && !config.processes[processId] && builtinNames().includes(processId)) {
    config.processes[processId] = { plugin: processId, options: {} };
  }
  return config;
}

/** An execute request body from the command-line inputs (file paths become file: hrefs). */
export function buildRequest(
  args: ExecuteArgs,
  description: { inputs: Record<string, { schema: Record<string, unknown> }> },
): { body: Record<string, unknown>; roots: string[] } {
  const inputs: Record<string, unknown> = {};
  const roots = new Set<string>();
  for (const [id, raws] of args.inputs) {
    const schema = description.inputs[id]?.schema;
    const values = raws.map((raw) => {
      if (schema && isBinarySchema(schema)) {
        if (/^(https?|file):/i.test(raw)) return { href: raw };
        const file = path.resolve(raw);
        // The file's folder becomes an input root so that the href passes the confinement check;
        // a missing file is left for the manager to report (a 400 naming the input).
        if (existsSync(file)) roots.add(path.dirname(realpathSync(file)));
        return { href: pathToFileURL(file).href };
      }
      // A string input keeps its text even when it looks like JSON (level ids such as bottom=13).
      return schema?.type === 'string' ? raw : parseValue(raw);
    });
    inputs[id] = values.length === 1 ? values[0] : values;
  }
  return { body: { inputs, response: 'document' }, roots: [...roots] };
}

/** Draws "[#####-----]  42.0 %  message" on one stderr line (a TTY) or prints a line now and then. */
class ProgressBar {
  private lastLine = '';
  private lastPrinted = 0;
  private readonly tty = !!process.stderr.isTTY;

  constructor(private readonly enabled: boolean) {}

  update(percent: number, message: string): void {
    if (!this.enabled) return;
    const width = 30;
    const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent.toFixed(1).padStart(5)} %  ${message}`;
    if (line === this.lastLine) return;
    this.lastLine = line;
    if (this.tty) {
      const cols = process.stderr.columns || 100;
      process.stderr.write(`\r${line.slice(0, cols - 1).padEnd(cols - 1)}`);
    } else if (Date.now() - this.lastPrinted >= 2000 || percent >= 100) {
      this.lastPrinted = Date.now();
      process.stderr.write(line + '\n');
    }
  }

  done(): void {
    if (this.enabled && this.tty && this.lastLine) process.stderr.write('\n');
  }
}

function printProblem(p: Problem): void {
  process.stderr.write(`dallage: ${p.title}: ${p.detail}\n${JSON.stringify(p)}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A pyramid of the requested name already in the storage folder: refused (exit 2) unless `--overwrite`,
 * which removes every file of the old one first (no old mask slab stays behind a new pyramid without masks).
 */
async function makeRoomForPyramid(runtime: Runtime, args: ExecuteArgs, body: Record<string, unknown>): Promise<void> {
  const name = (body.inputs as Record<string, unknown>).name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) return; // the process checks its own inputs
  const location = newPyramidLocation(name);
  const { storage } = runtime;
  const leftover = !(await storage.list(`${location.folder}`)[Symbol.asyncIterator]().next()).done;
  if (!leftover) return;
  if (!args.overwrite) {
    throw invalidInput(
      'name',
      `a pyramid named '${name}' is already in ${path.join(runtime.config.storage.path, location.folder)}; give --overwrite to replace it, or choose another name`,
    );
  }
  await deletePyramidFiles(storage, location);
}

/**
 * What an execution printed: the same shape as HTTP's raw answer — one output is itself (JSON
 * pretty-printed, text as it is, binary as its bytes); several are the results document (JSON).
 */
function printOutputs(outputs: Record<string, OutputData>): void {
  const ids = Object.keys(outputs);
  if (ids.length === 1) {
    const o = outputs[ids[0]];
    if (o.json) process.stdout.write(JSON.stringify(JSON.parse(o.bytes.toString('utf8')), null, 2) + '\n');
    else process.stdout.write(o.bytes);
    return;
  }
  const doc: Record<string, unknown> = {};
  for (const id of ids) doc[id] = documentValue(outputs[id]);
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}

/** Removes what the job kept in the storage folder (its results folder): the command line prints them instead. */
async function forgetJob(runtime: Runtime, jobId: string): Promise<void> {
  await runtime.storage.deletePrefix(`jobs/${jobId}`);
  // The jobs folder itself, when no other job is in it (a FILE storage keeps empty folders).
  if (runtime.storage.type === 'FILE') await rmdir(path.join(runtime.config.storage.path, 'jobs')).catch(() => {});
}

/**
 * Runs one execution as a job of the runtime, drawing its progress, and prints its outputs: the exit code.
 * `forget`: the job's results are removed afterwards (the command line printed them).
 */
async function runInProcess(
  runtime: Runtime,
  proc: RegisteredProcess,
  body: Record<string, unknown>,
  bar: ProgressBar,
  options: { forget: boolean },
): Promise<number> {
  const execution = await runtime.manager.execute(proc, body, { prefer: 'respond-async' });
  if (execution.mode !== 'async') throw new Error(`process '${proc.description.id}' cannot run as a job`);
  const { job } = execution;
  const manager = runtime.manager;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    void manager.dismiss(job.jobID).catch(() => {});
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let status = await manager.get(job.jobID);
  while (status && (status.status === 'accepted' || status.status === 'running')) {
    bar.update(status.progress ?? 0, status.message ?? status.status);
    // A memory job store answers at once: polling often costs nothing, and the command ends when the job does.
    await sleep(50);
    status = await manager.get(job.jobID);
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (status?.status === 'successful') bar.update(100, 'done');
  bar.done();
  if (!status || status.status !== 'successful') {
    if (options.forget) await forgetJob(runtime, job.jobID);
    const problem = status?.error ?? new ApiError('job-failed', status?.message ?? 'the job was lost').toProblem();
    printProblem(problem as Problem);
    return interrupted ? 130 : problem.status >= 400 && problem.status < 500 ? 2 : 1;
  }
  const results = await manager.results(job.jobID);
  if (options.forget) await forgetJob(runtime, job.jobID);
  if (results.status !== 'successful') throw new Error('the job ended without results');
  printOutputs(results.outputs);
  return 0;
}

/** `dallage execute`: returns the exit code. */
export async function execute(args: ExecuteArgs): Promise<number> {
  const config = cliConfig(args.config, args.process);
  // In-process runs keep nothing between runs: memory job store, no log lines on stdout (the
  // outputs are the only thing there).
  config.manager = { ...config.manager, name: 'memory' };
  config.logging.enabled = false;
  if (args.outputDir) config.storage.path = path.resolve(args.outputDir);
  if (args.threads !== undefined) config.pool.threads = args.threads;
  config.server.limits.max_running_jobs = 1;

  let runtime: Runtime | undefined;
  let unlock: (() => void) | undefined;
  const bar = new ProgressBar(!args.quiet);
  try {
    // The storage folder is written (pyramids by name): a server or another run on it would collide.
    unlock = lockFolder(config.storage.path, 'execute');
    runtime = await createRuntime(config, { log: silentLogger });
    const proc = runtime.registry.get(args.process);
    if (!proc)
      throw new ApiError(
        'no-such-process',
        `no process '${args.process}' (known: ${runtime.registry
          .all()
          .map((p) => p.description.id)
          .join(', ')})`,
      );
    const { body, roots } = buildRequest(args, proc.description);
    config.security.input_roots = [...config.security.input_roots, ...roots];
    await makeRoomForPyramid(runtime, args, body);
    return await runInProcess(runtime, proc, body, bar, { forget: true });
  } catch (err) {
    bar.done();
    return reportFailure(err);
  } finally {
    await runtime?.close().catch(() => {});
    unlock?.();
  }
}

/**
 * `dallage copy-stored-data`: runs the process pyramid-copy here, on the server's own records and storages
 * (config.yml), as a job kept in its job store. The data folders are locked as a server locks them: no server
 * runs on them meanwhile, so nothing deletes the source while it is copied (the job also read-locks it).
 * A bullmq deployment shares its records through Redis with running servers: there, execute pyramid-copy
 * through a server.
 */
export async function copyStoredData(args: CopyArgs): Promise<number> {
  const bar = new ProgressBar(!args.quiet);
  let config: Config;
  try {
    config = cliConfig(args.config, 'pyramid-copy');
    if (!config.processes['catalog-copy'] && builtinNames().includes('catalog-copy'))
      config.processes['catalog-copy'] = { plugin: 'catalog-copy', options: {} };
  } catch (err) {
    process.stderr.write(`dallage: ${(err as Error).message}\n`);
    return 2;
  }
  if (config.manager.name !== 'lowdb') {
    process.stderr.write(
      config.manager.name === 'memory'
        ? 'dallage: copy-stored-data needs the records of a server (manager.name: lowdb); the memory manager keeps none\n'
        : 'dallage: with manager.name: bullmq, run the process pyramid-copy through a server (its records live in Redis)\n',
    );
    return 2;
  }
  config.logging.enabled = false;
  config.server.limits.max_running_jobs = 1;
  let runtime: Runtime | undefined;
  let unlock: (() => void) | undefined;
  try {
    const { dataFolders } = await import('./server.js');
    unlock = lockFolders(dataFolders(config), 'copy-stored-data');
    runtime = await createRuntime(config, { log: silentLogger });
    const source = await runtime.datastore.get(args.id);
    if (!source || source.status === 'DELETED') throw invalidInput('stored_data', `no stored data with id '${args.id}'`);
    // A raster catalog is copied by its own process; everything else is refused by pyramid-copy if not a pyramid.
    const catalog = source.type === CATALOG_TYPE;
    const proc = runtime.registry.get(catalog ? 'catalog-copy' : 'pyramid-copy');
    if (!proc) throw new Error('the copy processes are not available');
    const inputs: Record<string, unknown> = { stored_data: args.id, storage: args.to, name: args.name ?? `${source.name}_${args.to}` };
    if (args.pathDepth !== undefined) {
      if (catalog) throw invalidInput('path_depth', `'${source.name}' is a raster catalog: a path depth applies to pyramids only`);
      inputs.path_depth = args.pathDepth;
    }
    return await runInProcess(runtime, proc, { inputs, response: 'document' }, bar, { forget: false });
  } catch (err) {
    bar.done();
    return reportFailure(err, '(stop the server first, or execute the process pyramid-copy through it)');
  } finally {
    await runtime?.close().catch(() => {});
    unlock?.();
  }
}

/**
 * Writes why a command failed to stderr and returns its exit code: 2 for what the user can correct (the
 * config, a 4xx problem), 1 otherwise (a folder held by a server, followed by `lockHint` when given).
 */
function reportFailure(err: unknown, lockHint?: string): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`dallage: ${err.message}\n`);
    return 2;
  }
  if (err instanceof FolderLockError) {
    process.stderr.write(`dallage: ${err.message}\n${lockHint ? `${lockHint}\n` : ''}`);
    return 1;
  }
  const problem = toProblem(err);
  printProblem(problem);
  return problem.status >= 400 && problem.status < 500 ? 2 : 1;
}

/** The config of a long-running command, or its exit code (2) once the reason is written to stderr. */
function commandConfig(configFile: string | undefined): Config | number {
  try {
    return cliConfig(configFile);
  } catch (err) {
    process.stderr.write(`dallage: ${(err as Error).message}\n`);
    return 2;
  }
}

/** `dallage serve`: starts the server; it runs until SIGINT/SIGTERM (src/server.ts, runServer), which exit the process. */
async function serve(configFile: string | undefined): Promise<number> {
  const { runServer } = await import('./server.js');
  const config = commandConfig(configFile);
  if (typeof config === 'number') return config;
  try {
    await runServer(config);
  } catch (err) {
    process.stderr.write(`dallage: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise<number>(() => {}); // the signal handlers of runServer end the process
}

/** `dallage worker`: runs jobs of the bullmq manager until a signal. */
async function worker(configFile: string | undefined, concurrency: number, threads: number | undefined): Promise<number> {
  const { runWorker } = await import('./worker.js');
  const config = commandConfig(configFile);
  if (typeof config === 'number') return config;
  if (config.manager.name !== 'bullmq') {
    process.stderr.write(`dallage: worker needs manager.name: bullmq in the config (it has '${config.manager.name}')\n`);
    return 2;
  }
  try {
    await runWorker(config, { concurrency, ...(threads !== undefined ? { threads } : {}) });
  } catch (err) {
    process.stderr.write(`dallage: cannot start the worker: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise<number>(() => {}); // the signal handlers of runWorker end the process
}

/** Runs the command line; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let cmd: CliCommand;
  try {
    cmd = parseCliArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`dallage: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (cmd.command === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (cmd.command === 'serve') return serve(cmd.config);
  if (cmd.command === 'worker') return worker(cmd.config, cmd.concurrency, cmd.threads);
  if (cmd.command === 'copy-stored-data') return copyStoredData(cmd);
  return execute(cmd);
}

/** Used by bin/dallage.js. */
export async function run(): Promise<void> {
  const code = await main(process.argv.slice(2));
  // Worker threads and sockets are closed by runtime.close(); exit explicitly so that a lingering
  // handle (an idle keep-alive) cannot keep the command alive.
  process.exit(code);
}
