import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execute, waitForJob, withServer } from '../helpers/server.js';
import { assertProblem, jobCount } from '../api/problem-assert.js';
import { guardedFetch, OutboundRefused } from '../../src/security/outbound-fetch.js';
import type { OutboundPolicy } from '../../src/security/hosts.js';
import { installLoopbackOnly, violations } from './loopback-only.js';

// Resolvers below answer a public address; the tripwire makes sure nothing is ever sent there.
before(() => installLoopbackOnly());

/** A loopback listener that counts the TCP connections it accepts (what must stay 0). */
async function startListener(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('secret from loopback'));
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Every way of writing the loopback listener's address that the filter once let through, and their kin. */
const spellings = (port: number) => [
  `http://[::ffff:127.0.0.1]:${port}/`,
  `http://[::ffff:7f00:1]:${port}/`,
  `http://[::127.0.0.1]:${port}/`,
  `http://[64:ff9b::7f00:1]:${port}/`,
  `http://[0:0:0:0:0:ffff:7f00:1]:${port}/`,
  `http://[::ffff:0:7f00:1]:${port}/`,
  `http://[2002:7f00:1::1]:${port}/`,
  `http://2130706433:${port}/`,
  `http://0x7f.1:${port}/`,
  `http://127.1:${port}/`,
  `http://127.0.0.1:${port}/`,
  `http://[::1]:${port}/`,
  `http://localhost:${port}/`,
  `http://loopback.test:${port}/`,
];

/** A resolver answering `public` for the first `publicAnswers` lookups of a name, loopback after (DNS rebinding). */
function rebinding(publicAnswers: number): { resolve: (h: string) => Promise<string[]>; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    resolve: async (hostname) => {
      if (hostname === 'loopback.test') return ['::ffff:127.0.0.1'];
      if (hostname === 'localhost') return ['127.0.0.1', '::1'];
      if (hostname !== 'rebind.test') throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return ++calls <= publicAnswers ? ['93.184.216.34'] : ['127.0.0.1'];
    },
  };
}

test('hrefs: no spelling of a loopback address reaches the listener (allowed_hosts ["*"]): 400 naming the input', async () => {
  const rx = await startListener();
  try {
    await withServer({ security: { allowed_hosts: ['*'] }, resolve: rebinding(0).resolve }, async (s) => {
      for (const href of spellings(rx.port)) {
        const res = await execute(s.url, 'echo', { inputs: { stringInput: { href } } });
        await assertProblem(res, 400, { detail: /stringInput.*refused.*internal address/ });
      }
      assert.equal(await jobCount(s.url), 0);
    });
    assert.equal(rx.connections(), 0, 'connections made to the loopback listener');
  } finally {
    await rx.close();
  }
  assert.deepEqual(violations, []);
});

test('callbacks: no spelling of a loopback address is accepted as a subscriber, none reaches the listener', async () => {
  const rx = await startListener();
  try {
    await withServer({ security: { allowed_hosts: ['*'] }, resolve: rebinding(0).resolve }, async (s) => {
      for (const uri of spellings(rx.port)) {
        const res = await execute(
          s.url,
          'echo',
          { inputs: { stringInput: 'x' }, subscriber: { successUri: uri, failedUri: uri } },
          { Prefer: 'respond-async' },
        );
        await assertProblem(res, 400, { detail: /subscriber\.successUri refused.*internal address/ });
      }
      assert.equal(await jobCount(s.url), 0);
    });
    assert.equal(rx.connections(), 0);
  } finally {
    await rx.close();
  }
});

test('DNS rebinding, href: public at the submission check, loopback at connection time → 400, listener never reached', async () => {
  const rx = await startListener();
  const dns = rebinding(1);
  try {
    await withServer({ security: { allowed_hosts: ['rebind.test'] }, resolve: dns.resolve }, async (s) => {
      const res = await execute(s.url, 'echo', { inputs: { stringInput: { href: `http://rebind.test:${rx.port}/data.txt` } } });
      await assertProblem(res, 400, {
        detail: /stringInput.*href refused: host 'rebind\.test' resolves to the internal address 127\.0\.0\.1/,
      });
      assert.equal(dns.calls(), 2, 'the name was resolved again at connection time');
    });
    assert.equal(rx.connections(), 0);
  } finally {
    await rx.close();
  }
  assert.deepEqual(violations, []);
});

test('DNS rebinding, callback: public until the callback connects, loopback then → never sent, job unaffected', async () => {
  const rx = await startListener();
  // Two public answers: the check at submission and the one before the POST; the connection's own lookup gets loopback.
  const dns = rebinding(2);
  try {
    await withServer({ security: { allowed_hosts: ['rebind.test'] }, resolve: dns.resolve }, async (s) => {
      const res = await execute(
        s.url,
        'echo',
        { inputs: { stringInput: 'x' }, subscriber: { successUri: `http://rebind.test:${rx.port}/cb` } },
        { Prefer: 'respond-async' },
      );
      assert.equal(res.status, 201);
      const { jobID } = (await res.json()) as { jobID: string };
      assert.equal((await waitForJob(s.url, jobID)).status, 'successful');
      for (const end = Date.now() + 10_000; dns.calls() < 3 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      assert.equal(dns.calls(), 3, 'the callback resolved the name at connection time');
    });
    assert.equal(rx.connections(), 0);
  } finally {
    await rx.close();
  }
  assert.deepEqual(violations, []);
});

test('guardedFetch refuses at connection time, without any earlier check: literals, names, every hop', async () => {
  const rx = await startListener();
  const policy: OutboundPolicy = { allowed_hosts: ['*'], allow_internal: false, resolve: rebinding(0).resolve };
  try {
    for (const url of spellings(rx.port).filter((u) => !u.includes('localhost'))) {
      await assert.rejects(guardedFetch(url, { redirect: 'manual' }, policy), (err: unknown) => {
        assert.ok(err instanceof OutboundRefused, `${url}: ${String(err)}`);
        assert.match(err.reason, /internal address/);
        return true;
      });
    }
    assert.equal(rx.connections(), 0);
    // The same listener is reached when internal addresses are allowed: the count above means something.
    const allowed = await guardedFetch(`http://loopback.test:${rx.port}/`, {}, { ...policy, allow_internal: true });
    assert.equal(await allowed.text(), 'secret from loopback');
    assert.equal(rx.connections(), 1);
  } finally {
    await rx.close();
  }
  assert.deepEqual(violations, []);
});
