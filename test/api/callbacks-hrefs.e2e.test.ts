import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execute, waitForJob, withServer } from '../helpers/server.js';
import { assertProblem, jobCount } from './problem-assert.js';

interface Received {
  path: string;
  body: Record<string, unknown>;
}

/** A local HTTP server recording POSTs (callbacks) and serving GET /data.txt (href inputs). */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') {
        received.push({ path: req.url!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        res.writeHead(202).end();
      } else if (req.url === '/data.txt') {
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end('fetched over http');
      } else res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test('subscriber callbacks: inProgress and success POSTs reach a local server when allowed', async () => {
  const rx = await startReceiver();
  try {
    await withServer({ security: { allow_internal: true, allowed_hosts: ['127.0.0.1'] } }, async (s) => {
      const res = await execute(
        s.url,
        'echo',
        {
          inputs: { stringInput: 'called back', pause: 1.2 },
          outputs: { stringInput: {} },
          subscriber: { successUri: `${rx.url}/success`, inProgressUri: `${rx.url}/progress`, failedUri: `${rx.url}/failed` },
        },
        { Prefer: 'respond-async' },
      );
      assert.equal(res.status, 201);
      const { jobID } = (await res.json()) as { jobID: string };
      await waitForJob(s.url, jobID);
      const end = Date.now() + 10_000;
      while (!rx.received.some((r) => r.path === '/success') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      const progress = rx.received.filter((r) => r.path === '/progress');
      assert.ok(progress.length >= 1, 'at least one inProgress callback');
      assert.equal(progress[0].body.jobID, jobID);
      assert.equal(progress[0].body.status, 'running');
      const success = rx.received.filter((r) => r.path === '/success');
      assert.equal(success.length, 1);
      assert.deepEqual(success[0].body, { stringInput: 'called back' });
      assert.equal(
        rx.received.some((r) => r.path === '/failed'),
        false,
      );
    });
  } finally {
    await rx.close();
  }
});

test('subscriber refused (400 naming it) for an internal address or a host not allowed; no job created', () =>
  withServer({}, async (s) => {
    const internal = await execute(
      s.url,
      'echo',
      { inputs: { stringInput: 'x' }, subscriber: { successUri: 'http://127.0.0.1:9/cb' } },
      { Prefer: 'respond-async' },
    );
    await assertProblem(internal, 400, { contentType: 'application/json', detail: /subscriber\.successUri refused/ });
    const metadata = await execute(
      s.url,
      'echo',
      { inputs: { stringInput: 'x' }, subscriber: { inProgressUri: 'http://169.254.169.254/latest/meta-data' } },
      { Prefer: 'respond-async' },
    );
    await assertProblem(metadata, 400, { contentType: 'application/json', detail: /subscriber\.inProgressUri refused/ });
    assert.equal(await jobCount(s.url), 0);
  }));

test('subscriber to an allowed-listed but internal host is refused unless allow_internal', () =>
  withServer({ security: { allowed_hosts: ['127.0.0.1'] } }, async (s) => {
    const res = await execute(
      s.url,
      'echo',
      { inputs: { stringInput: 'x' }, subscriber: { successUri: 'http://127.0.0.1:9/cb' } },
      { Prefer: 'respond-async' },
    );
    await assertProblem(res, 400, { detail: /internal address 127\.0\.0\.1/ });
  }));

test('file: hrefs under the input root work (text and binary); outside it → 400', async () => {
  const outside = await mkdtemp(path.join(os.tmpdir(), 'dallage-outside-'));
  try {
    await withServer({}, async (s) => {
      await writeFile(path.join(s.inputRoot, 'hello.txt'), 'from a file');
      await writeFile(path.join(s.inputRoot, 'blob.bin'), Buffer.from([9, 8, 7]));
      await writeFile(path.join(outside, 'secret.txt'), 'TOP-SECRET-CONTENT');
      await symlink(path.join(outside, 'secret.txt'), path.join(s.inputRoot, 'escape.txt'));
      const ok = await execute(s.url, 'echo', {
        inputs: { stringInput: { href: pathToFileURL(path.join(s.inputRoot, 'hello.txt')).href } },
        outputs: { stringInput: {} },
      });
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), 'from a file');
      const bin = await execute(s.url, 'echo', {
        inputs: { stringInput: 'x', binaryInput: { href: pathToFileURL(path.join(s.inputRoot, 'blob.bin')).href } },
        outputs: { binaryInput: {} },
      });
      assert.equal(bin.status, 200);
      assert.deepEqual([...Buffer.from(await bin.arrayBuffer())], [9, 8, 7]);

      const hostile = [
        `file://${s.inputRoot}/../../../etc/passwd`,
        `file://${s.inputRoot}/%2e%2e/%2e%2e/etc/passwd`,
        pathToFileURL(path.join(outside, 'secret.txt')).href,
        pathToFileURL(path.join(s.inputRoot, 'escape.txt')).href,
        'file:///etc/passwd',
        'file:../secret.txt',
        pathToFileURL(path.join(s.inputRoot, 'absent.txt')).href,
        pathToFileURL(s.inputRoot).href, // a folder, not a file
      ];
      for (const href of hostile) {
        const res = await execute(s.url, 'echo', { inputs: { stringInput: { href } }, outputs: { stringInput: {} } });
        const body = await assertProblem(res, 400, { contentType: 'application/json', type: 'invalid-input', detail: /stringInput/ });
        assert.doesNotMatch(JSON.stringify(body), /TOP-SECRET-CONTENT|root:x:/, href);
      }
      // Asynchronous requests are checked before the job exists.
      const res = await execute(s.url, 'echo', { inputs: { stringInput: { href: 'file:///etc/passwd' } } }, { Prefer: 'respond-async' });
      await assertProblem(res, 400, { detail: /stringInput/ });
      assert.equal(await jobCount(s.url), 0);
    });
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
});

test('http hrefs: refused for hosts not allowed, other schemes refused; allowed hosts are fetched', async () => {
  const rx = await startReceiver();
  try {
    await withServer({}, async (s) => {
      for (const href of [
        'http://example.org/data.txt',
        `${rx.url}/data.txt`,
        'http://169.254.169.254/latest/meta-data',
        'gopher://example.org/',
        'ftp://example.org/x',
        'data:text/plain,hi',
      ]) {
        const res = await execute(s.url, 'echo', { inputs: { stringInput: { href } } });
        await assertProblem(res, 400, { contentType: 'application/json', detail: /stringInput.*(refused|not supported)/ });
      }
    });
    await withServer({ security: { allow_internal: true, allowed_hosts: ['127.0.0.1'] } }, async (s) => {
      const res = await execute(s.url, 'echo', { inputs: { stringInput: { href: `${rx.url}/data.txt` } }, outputs: { stringInput: {} } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'fetched over http');
      const missing = await execute(s.url, 'echo', { inputs: { stringInput: { href: `${rx.url}/missing` } } });
      await assertProblem(missing, 400, { detail: /stringInput.*HTTP 404/ });
    });
  } finally {
    await rx.close();
  }
});

test('file: hrefs: one answer whether a path outside the roots exists or not (and for a missing file inside)', async () => {
  const outside = await mkdtemp(path.join(os.tmpdir(), 'dallage-outside-'));
  try {
    await writeFile(path.join(outside, 'exists.txt'), 'here');
    await withServer({}, async (s) => {
      const detailOf = async (file: string) => {
        const href = pathToFileURL(file).href;
        const body = await assertProblem(await execute(s.url, 'echo', { inputs: { stringInput: { href } } }), 400, {
          detail: /stringInput/,
        });
        return (body.detail as string).replace(href, '<href>');
      };
      const existing = await detailOf(path.join(outside, 'exists.txt'));
      assert.equal(await detailOf(path.join(outside, 'missing.txt')), existing);
      assert.equal(await detailOf(path.join(s.inputRoot, 'missing.txt')), existing);
      assert.equal(await detailOf(s.inputRoot), existing);
      assert.match(existing, /under the input roots/);
    });
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
});

test('an allowed http href that cannot be reached: 400 (sync) or a failed job (async) naming the input, the host and the cause', async () => {
  // A port that was just free on loopback: nothing listens there.
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  await withServer({ security: { allow_internal: true, allowed_hosts: ['127.0.0.1'] } }, async (s) => {
    const href = `http://127.0.0.1:${port}/data.txt`;
    const cause = new RegExp(`stringInput.*127\\.0\\.0\\.1:${port}.*ECONNREFUSED`);
    const body = await assertProblem(await execute(s.url, 'echo', { inputs: { stringInput: { href } } }), 400, {
      contentType: 'application/json',
      type: 'invalid-input',
    });
    assert.equal(body.input, 'stringInput');
    assert.match(body.detail as string, cause);
    const res = await execute(s.url, 'echo', { inputs: { stringInput: { href } } }, { Prefer: 'respond-async' });
    if (res.status === 400) {
      assert.match(((await res.json()) as { detail: string }).detail, cause);
    } else {
      assert.equal(res.status, 201);
      const job = await waitForJob(s.url, ((await res.json()) as { jobID: string }).jobID);
      assert.equal(job.status, 'failed');
      assert.match(String(job.message), cause);
    }
  });
});
