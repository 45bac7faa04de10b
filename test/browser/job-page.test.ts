import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startTestServer, execute, type TestServer } from '../helpers/server.js';
import { launchChromium } from '../helpers/chromium.js';
import { skipUnlessCommands } from '../helpers/env.js';

async function submit(s: TestServer, pause: number): Promise<string> {
  const res = await execute(
    s.url,
    'echo',
    { inputs: { stringInput: 'seen in a browser', pause }, response: 'document' },
    { Prefer: 'respond-async' },
  );
  assert.equal(res.status, 201);
  return ((await res.json()) as { jobID: string }).jobID;
}

const progressValue = (page: Page) => page.locator('#job-progress').evaluate((el) => (el as HTMLProgressElement).value);

/** Set on the window after load: still there later means the page was never reloaded. */
async function markWindow(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { loadedOnce: string }).loadedOnce = 'yes';
  });
}
const stillSameWindow = (page: Page) => page.evaluate(() => (window as unknown as { loadedOnce?: string }).loadedOnce === 'yes');

test('the job page follows a running job without reloading, then links to its results', {
  skip: skipUnlessCommands('chromium'),
  timeout: 120_000,
}, async () => {
  const s = await startTestServer();
  const shots = await mkdtemp(path.join(os.tmpdir(), 'dallage-browser-'));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    const jobId = await submit(s, 3);
    await page.goto(`${s.url}/jobs/${jobId}?f=html`);
    await markWindow(page);
    const navigationsAtLoad = navigations;

    // First reading: strictly between 0 and 100 while the echo pauses.
    await page.waitForFunction(
      () => {
        const v = (document.getElementById('job-progress') as HTMLProgressElement).value;
        return v > 0 && v < 100;
      },
      undefined,
      { timeout: 30_000 },
    );
    const first = await progressValue(page);
    assert.equal(await page.locator('[data-field="status"]').textContent(), 'running');
    assert.ok(await page.locator('#dismiss').isVisible(), 'Dismiss is offered while the job runs');
    assert.ok(await page.locator('#results').isHidden(), 'no results link yet');
    await page.screenshot({ path: path.join(shots, 'job-running.png'), fullPage: true });

    // Second reading: larger, and the page was updated in place.
    await page.waitForFunction((v) => (document.getElementById('job-progress') as HTMLProgressElement).value > v, first, {
      timeout: 30_000,
    });
    const second = await progressValue(page);
    assert.ok(second > first, `progress went from ${first} to ${second}`);
    assert.match((await page.locator('[data-field="message"]').textContent()) ?? '', /pausing|pause done/);

    // Success: the results link appears, still without a reload.
    await page.locator('#results-link').waitFor({ state: 'visible', timeout: 60_000 });
    assert.equal(await page.locator('[data-field="status"]').textContent(), 'successful');
    assert.equal(await progressValue(page), 100);
    assert.ok(await page.locator('#dismiss').isHidden());
    // The links list follows the status document too: results links in, monitor link out.
    assert.equal(await page.locator('#job-links a[rel="http://www.opengis.net/def/rel/ogc/1.0/results"]').count(), 2);
    assert.equal(await page.locator('#job-links a[rel="monitor"]').count(), 0);
    assert.ok(await stillSameWindow(page), 'the page was not reloaded');
    assert.equal(navigations, navigationsAtLoad);
    const shot = path.join(shots, 'job-successful.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok((await stat(shot)).size > 1000);

    await page.locator('#results-link').click();
    await page.waitForURL(`${s.url}/jobs/${jobId}/results?f=html`);
    assert.match((await page.locator('h1').textContent()) ?? '', /Results of job/);
    assert.equal(await page.locator('#output-stringInput pre').textContent(), 'seen in a browser');
    await page.screenshot({ path: path.join(shots, 'results.png'), fullPage: true });
  } finally {
    await browser.close();
    await s.stop();
    // DALLAGE_KEEP_SCREENSHOTS=1 keeps them to look at.
    if (process.env.DALLAGE_KEEP_SCREENSHOTS) console.log(`screenshots in ${shots}`);
    else await rm(shots, { recursive: true, force: true });
  }
});

test('the Dismiss button of a running job dismisses it', { skip: skipUnlessCommands('chromium'), timeout: 120_000 }, async () => {
  const s = await startTestServer();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const jobId = await submit(s, 60);
    await page.goto(`${s.url}/jobs/${jobId}?f=html`);
    await page.locator('#dismiss').waitFor({ state: 'visible' });
    // The first click is answered "Cancel": nothing happens. The second is confirmed.
    const dialogs: string[] = [];
    page.once('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.locator('#dismiss').click();
    await page.waitForTimeout(300);
    const cancelled = (await (await fetch(`${s.url}/jobs/${jobId}`)).json()) as { status: string };
    assert.notEqual(cancelled.status, 'dismissed', 'cancelled: not dismissed');
    page.once('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await page.locator('#dismiss').click();
    assert.equal(dialogs.length, 2);
    assert.match(dialogs[0], /Dismiss this job/);
    await page.waitForFunction(() => document.querySelector('[data-field="status"]')?.textContent === 'dismissed', undefined, {
      timeout: 30_000,
    });
    assert.ok(await page.locator('#dismiss').isHidden());
    const status = (await (await fetch(`${s.url}/jobs/${jobId}`)).json()) as { status: string };
    assert.equal(status.status, 'dismissed');
  } finally {
    await browser.close();
    await s.stop();
  }
});
