// Issue 12: a tiling job killed (SIGKILL) while it writes into a catalog leaves nothing once the server
// has started again: neither the files it had written under catalogs/<name>/ (its own folder) nor a
// registration; the catalog keeps exactly the items it had. A catalog killed during its first run is
// FAILED with no file. Nothing is timed: the test's timeout bounds each wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CatalogItemStore } from '../../src/catalog/item-store.js';
import { makeSyntheticMap } from '../fixtures/synthetic-raster.js';
import { jobStatus, serverFolder, spawnServer, submitAsync, until, type ServerProcess } from '../helpers/server-process.js';

async function kill(s: ServerProcess): Promise<void> {
  s.child.kill('SIGKILL');
  assert.equal((await s.exited).signal, 'SIGKILL');
}

async function stop(s: ServerProcess): Promise<void> {
  s.child.kill('SIGTERM');
  await s.exited;
}

const finished = async (url: string, id: string) => !['accepted', 'running'].includes((await jobStatus(url, id)).status);

test('kill -9 during tiling: the job folder and its registration are gone after a restart, the items unchanged', {
  timeout: 300_000,
}, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dallage-catalog-kill-'));
  try {
    const folder = await serverFolder(dir, { processes: { tiling: 'tiling' } });
    const small = path.join(folder.inputs, 'small.tif');
    const big = path.join(folder.inputs, 'big.tif');
    await makeSyntheticMap({ width: 200, height: 400, pixelSize: 500, path: small });
    await makeSyntheticMap({ width: 3000, height: 6000, pixelSize: 30, path: big });
    const catalogDir = path.join(dir, 'store', 'catalogs', 'cat');
    const target = { serviceName: 'cat', createNewService: true, attributesConfiguration: { attributes: [] } };

    const s = await spawnServer(folder);
    assert.ok(s.url, s.output());
    const first = await submitAsync(s.url!, 'tiling', { files: [{ href: `file://${small}` }], target });
    assert.equal(first.status, 201);
    await until(() => finished(s.url!, first.jobID!));
    assert.equal((await jobStatus(s.url!, first.jobID!)).status, 'successful');

    // The small file is written into the job's folder first; the kill comes during the big one.
    const second = await submitAsync(s.url!, 'tiling', {
      files: [{ href: `file://${small}` }, { href: `file://${big}` }],
      target: { serviceName: 'cat' },
    });
    assert.equal(second.status, 201);
    const killedFolder = path.join(catalogDir, second.jobID!);
    await until(() => existsSync(killedFolder) && readdirSafe(killedFolder).length > 0);
    assert.equal((await jobStatus(s.url!, second.jobID!)).status, 'running');
    // A new catalog killed during its first run.
    const third = await submitAsync(s.url!, 'tiling', { files: [{ href: `file://${big}` }], target: { ...target, serviceName: 'cat2' } });
    assert.equal(third.status, 201);
    // Killed once its catalog record exists (GENERATING), whatever the job wrote by then.
    await until(async () => {
      const res = await fetch(`${s.url}/stored_data?type=RASTER-CATALOG&status=GENERATING`);
      return ((await res.json()) as { stored_data: Array<{ name: string }> }).stored_data.some((r) => r.name === 'cat2');
    });
    await kill(s);
    assert.ok(readdirSafe(killedFolder).length > 0, 'the kill left files (what the restart must remove)');

    const again = await spawnServer(folder);
    try {
      assert.ok(again.url, again.output());
      assert.equal((await jobStatus(again.url!, second.jobID!)).status, 'failed');
      assert.equal(existsSync(killedFolder), false, "the killed job's folder is removed");
      assert.deepEqual(await readdir(catalogDir), [first.jobID], "the first job's folder stays");
      assert.equal(existsSync(path.join(dir, 'store', 'catalogs', 'cat2')), false, 'the catalog killed in its first run has no file');
      const records = (await (await fetch(`${again.url}/stored_data?type=RASTER-CATALOG&status=FAILED`)).json()) as {
        stored_data: Array<{ name: string }>;
      };
      assert.deepEqual(
        records.stored_data.map((r) => r.name),
        ['cat2'],
      );
    } finally {
      await stop(again);
    }
    const items = new CatalogItemStore(path.join(dir, 'jobs', 'catalog-items.sqlite'));
    try {
      assert.deepEqual(items.pendingWrites(), [], 'no registration left');
      const cat = (await readStoredData(dir)).find((r) => r.name === 'cat')!;
      const all = items.query(cat._id, { limit: 100, offset: 0 });
      assert.equal(all.numberMatched, 1, 'the catalog keeps its one item');
    } finally {
      items.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function readStoredData(dir: string): Promise<Array<{ _id: string; name: string }>> {
  const text = await readFile(path.join(dir, 'jobs', 'stored-data.json'), 'utf8');
  return (JSON.parse(text) as { stored_data: Array<{ _id: string; name: string }> }).stored_data;
}
