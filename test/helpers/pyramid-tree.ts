/**
 * A FILE pyramid as its files, references and list lines, for comparing two runs of the same job (the
 * split tests of issue 14: a pyramid computed in parts equals the one computed in one run).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

/** Every file under a folder, relative path → bytes (symbolic links are skipped). */
export async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out.set(path.relative(dir, full), await readFile(full));
  }
  return out;
}

/** Files and symlinks under a folder: relative path → bytes, or → the link's target pyramid and path. */
export async function treeOf(dir: string, stores: string): Promise<Map<string, string | Buffer>> {
  const out = new Map<string, string | Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, full);
    if (entry.isSymbolicLink()) {
      out.set(rel, `-> ${path.relative(stores, path.resolve(path.dirname(full), await readlink(full)))}`);
    } else if (entry.isFile()) out.set(rel, await readFile(full));
  }
  return out;
}

/** A list's slab lines with each root index replaced by the name of the pyramid it roots (rok4.md §6). */
export function listLines(list: Buffer): string[] {
  const [head, body] = list.toString().split('#\n');
  const roots = new Map(
    head
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [i, root] = l.split('=');
        return [i, path.basename(root)] as const;
      }),
  );
  return body
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const slash = l.indexOf('/');
      return `${roots.get(l.slice(0, slash))}${l.slice(slash)}`;
    })
    .sort();
}
