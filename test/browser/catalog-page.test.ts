/**
 * Issue 12, the catalog page in a real Chromium: its footprints drawn on an OpenLayers map (as many as
 * the catalog has, pixels on the canvas), the attribute table with one
 * row per item and the attribute values, nothing asked of another site; the item page shows its preview.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { makeInput } from '../helpers/pyramids.js';
import { execute, startTestServer, waitForJob, type TestServer } from '../helpers/server.js';

const skip = skipUnlessCommands('chromium');
let s: TestServer;
let browser: Browser;

before(async () => {
  if (skip) return;
  s = await startTestServer({ processes: { tiling: 'tiling' } });
  const a = await makeInput(s, 'a.tif', { width: 200, height: 400, pixelSize: 500 });
  const b = await makeInput(s, 'b.tif', { width: 200, height: 400, pixelSize: 500, seed: 3, origin: { x: 850000, y: 6600000 } });
  const res = await execute(
    s.url,
    'tiling',
    {
      inputs: {
        files: [{ href: a.href }, { href: b.href }],
        target: {
          serviceName: 'maps',
          createNewService: true,
          attributesConfiguration: {
            titleAttribute: 'name',
            attributes: [{ attributeName: 'name' }, { attributeName: 'sheet', alias: 'Sheet', subType: 'Int32' }],
          },
        },
        attributes: { name: 'Scan', sheet: 42 },
        compression: 'deflate',
      },
      response: 'document',
    },
    { Prefer: 'respond-async' },
  );
  assert.equal(res.status, 201, await res.clone().text());
  const status = await waitForJob(s.url, ((await res.json()) as { jobID: string }).jobID, { timeoutMs: 240_000 });
  assert.equal(status.status, 'successful', JSON.stringify(status));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await s?.stop();
});

test('the catalog page shows the footprints on a map and the attribute table', { skip, timeout: 120_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const requested: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${s.url}/collections/maps?f=html`);
  await page.waitForSelector('#map[data-ready]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('#map', 'data-ready'), 'true', (await page.textContent('#map-status')) ?? '');
  assert.equal(await page.getAttribute('#map', 'data-features'), '2');
  await page.waitForFunction(
    () => {
      const c = document.querySelector('#map canvas') as HTMLCanvasElement | null;
      if (!c) return false;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let drawn = 0;
      for (let i = 3; i < d.length; i += 4 * 8) if (d[i] > 0) drawn++;
      return drawn > 100;
    },
    undefined,
    { timeout: 60_000 },
  );
  const rows = await page.locator('table.items tbody tr').allTextContents();
  assert.equal(rows.length, 2);
  for (const r of rows) assert.match(r, /Scan.*42/);
  assert.deepEqual(await page.locator('table.items thead th').allTextContents(), ['Item', 'Date', 'name', 'Sheet']);

  // An item's page from the table: its preview (the thumbnail asset) loads.
  const link = page.locator('table.items a').first();
  await link.click();
  await page.waitForSelector('img[alt=preview]');
  const loaded = await page.evaluate(() => {
    const img = document.querySelector('img[alt=preview]') as HTMLImageElement;
    return img.complete && img.naturalWidth > 0;
  });
  assert.ok(loaded, 'the preview image loads');
  assert.deepEqual(errors, []);
  assert.deepEqual(
    requested.filter((u) => !u.startsWith(s.url)),
    [],
    'nothing asked of another site',
  );
  await page.close();
});
