/**
 * Plugins import src/, never each other; src/ never imports processes/ (what two plugins share moves under
 * src/, DESIGN §3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(ROOT, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath, e.name));
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]);
}

test('no plugin imports another plugin, and src/ imports no plugin', async () => {
  const offences: string[] = [];
  for (const file of await sources('processes')) {
    const plugin = path.relative(path.join(ROOT, 'processes'), file).split(path.sep)[0];
    for (const spec of importsOf(await readFile(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = path.relative(ROOT, path.resolve(path.dirname(file), spec)).split(path.sep);
      if (target[0] === 'processes' && target[1] !== plugin) offences.push(`${path.relative(ROOT, file)} → ${spec}`);
    }
  }
  for (const file of await sources('src')) {
    for (const spec of importsOf(await readFile(file, 'utf8'))) {
      if (spec.startsWith('.') && path.relative(ROOT, path.resolve(path.dirname(file), spec)).startsWith(`processes${path.sep}`)) {
        offences.push(`${path.relative(ROOT, file)} → ${spec}`);
      }
    }
  }
  assert.deepEqual(offences, []);
});
