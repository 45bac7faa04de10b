import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** True under CI (.ci/run sets CI=true): there, a missing tool or ../shared is a failure, not a skip. */
export const inCI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/** Absolute path of ../shared beside the repository, or undefined when absent. */
export function sharedDir(): string | undefined {
  const dir = path.resolve(process.cwd(), '..', 'shared');
  return existsSync(dir) ? dir : undefined;
}

/**
 * For `test(name, { skip: skipUnless... }, fn)`: returns a skip reason outside CI when the
 * requirement is missing, throws under CI so that the run fails instead of silently skipping.
 */
function skipOrFail(missing: string | undefined): string | false {
  if (!missing) return false;
  if (inCI) throw new Error(`required by the tests under CI: ${missing}`);
  return missing;
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Skip reason when one of the commands (gdalinfo, chromium, …) is missing; throws under CI. */
export function skipUnlessCommands(...cmds: string[]): string | false {
  const missing = cmds.filter((c) => !hasCommand(c));
  return skipOrFail(missing.length ? `missing command(s): ${missing.join(', ')}` : undefined);
}

/** Skip reason when a library the tests need (`what`) could not be loaded; throws under CI. */
export function skipUnlessAvailable(available: boolean, what: string): string | false {
  return skipOrFail(available ? undefined : `missing ${what}`);
}

/** Skip reason when ../shared is missing; throws under CI. */
export function skipUnlessShared(): string | false {
  return skipOrFail(sharedDir() ? undefined : '../shared is not beside the repository');
}

/** Skip reason when Debian's Python lacks one of these modules (qgis.core, owslib…); throws under CI. */
export function skipUnlessPythonModules(...modules: string[]): string | false {
  const missing = modules.filter((m) => {
    try {
      execFileSync('/usr/bin/python3', ['-c', `import ${m}`], { stdio: 'ignore', env: { ...process.env, QT_QPA_PLATFORM: 'offscreen' } });
      return false;
    } catch {
      return true;
    }
  });
  return skipOrFail(missing.length ? `missing Python module(s) of /usr/bin/python3: ${missing.join(', ')}` : undefined);
}
