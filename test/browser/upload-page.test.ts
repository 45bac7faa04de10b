/**
 * The upload page in real Chromium (issue 11, HTML): a GeoTIFF and its MD5 file sent through the page's
 * multi-file form (one progress bar each), the tree updated in place, Close pressed, the checks followed
 * until the upload is CLOSED, without reloading the page; then reopened from the page.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { makeSyntheticMap } from '../fixtures/synthetic-raster.js';
import { launchChromium } from '../helpers/chromium.js';
import { skipUnlessCommands } from '../helpers/env.js';
import { SMALL } from '../helpers/pyramids.js';
import { startTestServer } from '../helpers/server.js';

test('upload page: send two files with progress, see the tree, close, follow the checks to CLOSED, reopen', {
  skip: skipUnlessCommands('chromium'),
  timeout: 120_000,
}, async () => {
  const s = await startTestServer();
  const browser = await launchChromium();
  try {
    const tif = path.join(s.dir, 'scan.tif');
    await makeSyntheticMap({ ...SMALL, path: tif });
    const md5 = path.join(s.dir, 'scan.tif.md5');
    await writeFile(
      md5,
      `${createHash('md5')
        .update(await readFile(tif))
        .digest('hex')}  scan.tif\n`,
    );

    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(String(err)));
    // Declared from the list page's form: the browser lands on the new upload's page.
    await page.goto(`${s.url}/uploads?f=html`);
    await page.fill('#create-upload input[name="name"]', 'scans <b>1</b>');
    await page.click('#create-upload button[type="submit"]');
    await page.waitForURL(/\/uploads\/[0-9a-f-]{36}\?f=html$/);
    const id = /\/uploads\/([0-9a-f-]{36})/.exec(page.url())![1];
    assert.equal(await page.locator('[data-field="name"]').textContent(), 'scans <b>1</b>', 'user text stays text');
    assert.equal(await page.locator('[data-field="status"]').textContent(), 'OPEN');
    await page.evaluate(() => {
      (window as unknown as { loadedOnce: string }).loadedOnce = 'yes';
    });

    await page.setInputFiles('#send-files input[type="file"]', [tif, md5]);
    await page.fill('#send-files input[name="folder"]', 'data');
    await page.click('#send-files button[type="submit"]');
    await page.waitForFunction(() => document.querySelectorAll('#transfers li span[data-state="sent"]').length === 2, undefined, {
      timeout: 30_000,
    });
    const bars = await page.locator('#transfers progress').evaluateAll((els) => els.map((e) => (e as HTMLProgressElement).value));
    assert.deepEqual(bars, [100, 100]);
    await page.waitForSelector('#tree li[data-dir="data"] li[data-file="scan.tif"]');
    await page.waitForSelector('#tree li[data-dir="data"] li[data-file="scan.tif.md5"]');
    // The server has them, whole.
    const tree = (await (await fetch(`${s.url}/uploads/${id}/tree`)).json()) as Array<{ children: Array<{ name: string; size: number }> }>;
    assert.deepEqual(
      tree[0].children.map((c) => [c.name, c.size]),
      [
        ['scan.tif', (await readFile(tif)).length],
        ['scan.tif.md5', (await readFile(md5)).length],
      ],
    );

    await page.click('#close-upload');
    await page.waitForFunction(() => document.querySelector('[data-field="status"]')?.textContent === 'CLOSED', undefined, {
      timeout: 60_000,
    });
    const states = await page
      .locator('#checks tr')
      .evaluateAll((rows) => rows.map((r) => [(r as HTMLElement).dataset.check, r.querySelector('[data-field="state"]')?.textContent]));
    assert.deepEqual(states, [
      ['check-standard', 'passed'],
      ['check-raster', 'passed'],
    ]);
    assert.match(
      (await page.locator('#checks tr[data-check="check-raster"] [data-field="logs"]').textContent()) ?? '',
      /every block decodes/,
    );
    assert.equal(await page.locator('#send-files').isHidden(), true, 'no file form once closed');
    assert.equal(((await (await fetch(`${s.url}/uploads/${id}`)).json()) as { status: string }).status, 'CLOSED');

    await page.click('#open-upload');
    await page.waitForFunction(() => document.querySelector('[data-field="status"]')?.textContent === 'OPEN');
    assert.equal(await page.locator('#send-files').isVisible(), true);
    assert.equal(await page.evaluate(() => (window as unknown as { loadedOnce?: string }).loadedOnce), 'yes', 'never reloaded');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await s.stop();
  }
});
