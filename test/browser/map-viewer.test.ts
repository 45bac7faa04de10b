/**
 * Issue 10, "The viewer": the offering page shows the layer on an OpenLayers map read from our WMTS
 * capabilities, in a real Chromium: tiles are requested and answered 200, the canvas shows the data, a
 * click shows the pixel values, and nothing is asked of another site. Web Mercator (known to OpenLayers)
 * and Lambert-93 (through proj4) both.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { generate, makeInput, PYTHON } from '../helpers/pyramids.js';
import { publishLayer } from '../helpers/publication.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const skip = skipUnlessCommands('chromium', PYTHON);
let s: TestServer;
let browser: Browser;
const offerings: Record<string, string> = {};

before(async () => {
  if (skip) return;
  s = await startTestServer({ processes: { 'raster-to-pyramid': 'raster-to-pyramid' } });
  const map = await makeInput(s, 'map.tif');
  const common = { images: [{ href: map.href }], nodata: 255, width: 4, height: 4, compression: 'png', mask: true };
  const pm = (await generate(s, { ...common, tms: 'PM', name: 'MERC' })).record._id as string;
  const lamb = (await generate(s, { ...common, tms: 'LAMB93_50cm', name: 'LAMB' })).record._id as string;
  offerings.merc = (await publishLayer(s, 'merc', pm)).offering;
  offerings.lamb = (await publishLayer(s, 'lamb', lamb)).offering;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await s?.stop();
});

for (const layer of ['merc', 'lamb']) {
  test(`the offering page shows '${layer}' on a map: tiles 200, data on the canvas, pixel values on click`, {
    skip,
    timeout: 120_000,
  }, async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    const requested: string[] = [];
    const tiles: number[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    page.on('response', (r) => {
      if (/\/wmts\/1\.0\.0\/.+\.png$/.test(r.url()) || /REQUEST=GetTile/i.test(r.url())) tiles.push(r.status());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${s.url}/offerings/${offerings[layer]}?f=html`);
    await page.waitForSelector('#map[data-ready]', { timeout: 60_000 });
    assert.equal(await page.getAttribute('#map', 'data-ready'), 'true', (await page.textContent('#map-status')) ?? '');
    // Tiles come in once the view has rendered.
    await page.waitForFunction(
      () => {
        const c = document.querySelector('#map canvas') as HTMLCanvasElement | null;
        if (!c) return false;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let opaque = 0;
        for (let i = 3; i < d.length; i += 4 * 16) if (d[i] > 0) opaque++;
        return opaque > 100;
      },
      undefined,
      { timeout: 60_000 },
    );
    assert.ok(tiles.length > 0, 'tiles were requested');
    assert.deepEqual([...new Set(tiles)], [200]);
    assert.match((await page.textContent('#map-level')) ?? '', /^\d+$/);

    // A click in the middle of the layer (the view is fitted to it): pixel values of the data.
    const box = (await page.locator('#map').boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.waitForFunction(() => (document.getElementById('map-info')?.textContent ?? '') !== '', undefined, { timeout: 30_000 });
    assert.match((await page.textContent('#map-info')) ?? '', /^Level \d+, tile \d+\/\d+, pixel \d+\/\d+: \d+, \d+, \d+$/);

    assert.deepEqual(errors, []);
    assert.deepEqual(
      requested.filter((u) => !u.startsWith(s.url)),
      [],
      'nothing asked of another site',
    );
    await page.close();
  });
}
