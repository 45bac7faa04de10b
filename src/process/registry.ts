import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import { inputAjv } from './ajv.js';
import type { Process, ProcessDescription } from './types.js';
import { withStorageNames } from './storage-input.js';
import { UPLOAD_CHECKS } from '../uploads/checks.js';

/** Folder of the built-in plugins (processes/<name>/index.js next to src/ in the build). */
const BUILTIN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'processes');

export interface RegisteredProcess extends Process {
  options: Record<string, unknown>;
}

/** The processes of the config, loaded once at start-up (DESIGN §4). */
export class ProcessRegistry {
  private readonly byId = new Map<string, RegisteredProcess>();
  /** The configured storage names (issue 13), set by {@link load}: a `storage` input takes one of them. */
  private storages?: { names: string[]; defaultName: string };

  get(id: string): RegisteredProcess | undefined {
    return this.byId.get(id);
  }

  all(): RegisteredProcess[] {
    return [...this.byId.values()];
  }

  add(id: string, plugin: Process, options: Record<string, unknown> = {}): void {
    const problem = checkDescription(plugin.description);
    if (problem) throw new ConfigError(`process '${id}': invalid description: ${problem}`);
    const own: ProcessDescription = { ...plugin.description, id };
    const description = this.storages ? withStorageNames(own, this.storages.names, this.storages.defaultName) : own;
    this.byId.set(id, {
      ...plugin,
      description,
      execute: plugin.execute.bind(plugin),
      prepare: plugin.prepare?.bind(plugin),
      release: plugin.release?.bind(plugin),
      options,
    });
  }

  /**
   * Loads every `processes` entry: a built-in name or a module path (relative to the working directory).
   * The checks of uploads (src/uploads/checks.ts) are added when the config does not name them: every
   * close of an upload runs them as jobs.
   */
  static async load(config: Config): Promise<ProcessRegistry> {
    const registry = new ProcessRegistry();
    if (config.storages) registry.storages = { names: Object.keys(config.storages), defaultName: config.default_storage };
    for (const [id, entry] of Object.entries(config.processes)) await registry.loadPlugin(id, entry.plugin, entry.options);
    for (const check of UPLOAD_CHECKS) if (!registry.get(check._id)) await registry.loadPlugin(check._id, check._id, {});
    return registry;
  }

  private async loadPlugin(id: string, name: string, options: Record<string, unknown>): Promise<void> {
    const url = resolvePlugin(name);
    if (!url)
      throw new ConfigError(`process '${id}': plugin '${name}' is neither a built-in (${builtinNames().join(', ')}) nor a module path`);
    let mod: { default?: Process };
    try {
      mod = await import(url);
    } catch (err) {
      throw new ConfigError(`process '${id}': cannot load plugin '${name}': ${(err as Error).message}`);
    }
    const plugin = mod.default;
    if (!plugin || typeof plugin.execute !== 'function' || !plugin.description) {
      throw new ConfigError(`process '${id}': plugin '${name}' must default-export { description, execute(inputs, ctx) }`);
    }
    this.add(id, plugin, options);
  }
}

export function builtinNames(): string[] {
  if (!existsSync(BUILTIN_DIR)) return [];
  return readdirSync(BUILTIN_DIR).filter((n) => existsSync(path.join(BUILTIN_DIR, n, 'index.js')));
}

function resolvePlugin(plugin: string): string | undefined {
  if (/^[a-z0-9-]+$/.test(plugin)) {
    const builtin = path.join(BUILTIN_DIR, plugin, 'index.js');
    if (existsSync(builtin)) return pathToFileURL(builtin).href;
  }
  const file = path.resolve(plugin);
  return existsSync(file) ? pathToFileURL(file).href : undefined;
}

/** What a description must have for clients and the ETS (a missing jobControlOptions crashes the ETS, §3.3). */
function checkDescription(d: ProcessDescription): string | undefined {
  if (typeof d.version !== 'string') return 'version must be a string';
  if (typeof d.title !== 'string') return 'title must be a string';
  if (!Array.isArray(d.jobControlOptions) || d.jobControlOptions.length === 0)
    return 'jobControlOptions must list sync-execute and/or async-execute';
  if (!Array.isArray(d.outputTransmission) || d.outputTransmission.length === 0)
    return 'outputTransmission must list value and/or reference';
  for (const [kind, map] of [
    ['input', d.inputs],
    ['output', d.outputs],
  ] as const) {
    if (!map || typeof map !== 'object') return `${kind}s must be an object`;
    for (const [id, item] of Object.entries(map)) {
      if (!item || typeof item.schema !== 'object') return `${kind} '${id}' has no schema`;
      try {
        inputAjv.compile(item.schema);
      } catch (err) {
        return `${kind} '${id}': schema does not compile: ${(err as Error).message}`;
      }
    }
  }
  return undefined;
}
