import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { startTestServer } from '../helpers/server.js';
import { launchChromium } from '../helpers/chromium.js';
import { skipUnlessCommands } from '../helpers/env.js';

// Issue 8: /api.html is an interactive console (Swagger UI from npm, served by us) where "Try it out"
// works, in a real Chromium; the page asks nothing of another site.

/** Expands an operation, presses "Try it out" then "Execute", and returns the status and body it shows. */
async function tryItOut(page: Page, blockId: string): Promise<{ status: string; body: string }> {
  const block = page.locator(`#${blockId}`);
  await block.locator('.opblock-summary').first().click();
  await block.locator('button.try-out__btn').click();
  await block.locator('button.execute').click();
  const status = block.locator('.live-responses-table tr.response .response-col_status').first();
  await status.waitFor({ timeout: 30_000 });
  const body = await block.locator('.live-responses-table tr.response .response-col_description pre').first().textContent();
  return { status: (await status.textContent())?.trim() ?? '', body: body ?? '' };
}

test('the API console lists the operations and "Try it out" runs GET /processes and an echo execution', {
  skip: skipUnlessCommands('chromium'),
  timeout: 120_000,
}, async () => {
  const s = await startTestServer();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${s.url}/api.html`);
    await page.locator('#operations-Processes-getProcesses').waitFor({ timeout: 30_000 });

    const list = await tryItOut(page, 'operations-Processes-getProcesses');
    assert.equal(list.status, '200');
    assert.match(list.body, /"id": "echo"/);

    // The echo execution path carries the process's own example request body; the console fills the
    // Prefer header with its documented example (respond-async): a job is created.
    const run = await tryItOut(page, 'operations-Processes-execute-echo');
    assert.equal(run.status, '201', run.body);
    const job = JSON.parse(run.body) as { jobID: string; processID: string };
    assert.equal(job.processID, 'echo');
    assert.equal((await fetch(`${s.url}/jobs/${job.jobID}`)).status, 200, 'the job exists on the server');

    assert.deepEqual(errors, []);
    const foreign = requested.filter((u) => !u.startsWith(s.url) && !u.startsWith('data:') && !u.startsWith('blob:'));
    assert.deepEqual(foreign, [], 'nothing from another site');
  } finally {
    await browser.close();
    await s.stop();
  }
});
