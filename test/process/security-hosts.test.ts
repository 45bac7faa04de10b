import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostListed, isInternalAddress, outboundRefusal } from '../../src/security/hosts.js';

test('isInternalAddress: loopback, private, link-local, CGNAT, multicast, v6 local ranges', () => {
  for (const a of [
    '127.0.0.1',
    '127.255.0.3',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
  ]) {
    assert.equal(isInternalAddress(a), true, a);
  }
  for (const a of [
    '8.8.8.8',
    '172.15.0.1',
    '172.32.0.1',
    '192.169.0.1',
    '100.63.0.1',
    '100.128.0.1',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
  ]) {
    assert.equal(isInternalAddress(a), false, a);
  }
});

test('hostListed: exact names, *.domain patterns (not the bare domain, not look-alikes), *', () => {
  assert.equal(hostListed('data.example.org', ['data.example.org']), true);
  assert.equal(hostListed('DATA.example.org'.toLowerCase(), ['Data.Example.org']), true);
  assert.equal(hostListed('other.example.org', ['data.example.org']), false);
  assert.equal(hostListed('a.example.org', ['*.example.org']), true);
  assert.equal(hostListed('a.b.example.org', ['*.example.org']), true);
  assert.equal(hostListed('example.org', ['*.example.org']), false);
  assert.equal(hostListed('evilexample.org', ['*.example.org']), false);
  assert.equal(hostListed('anything', ['*']), true);
  assert.equal(hostListed('anything', []), false);
});

test('outboundRefusal: scheme, credentials, host list, internal addresses unless allowed', async () => {
  const sec = (allowed_hosts: string[], allow_internal = false) => ({ input_roots: [], allowed_hosts, allow_internal });
  assert.match((await outboundRefusal('gopher://x/', sec(['*'])))!, /scheme gopher:/);
  assert.match((await outboundRefusal('not a url', sec(['*'])))!, /not a URL/);
  assert.match((await outboundRefusal('http://u:p@example.org/', sec(['*'])))!, /credentials/);
  assert.match((await outboundRefusal('http://example.org/', sec([])))!, /not in security.allowed_hosts/);
  assert.match((await outboundRefusal('http://169.254.169.254/latest', sec(['169.254.169.254'])))!, /internal address 169.254.169.254/);
  assert.match((await outboundRefusal('http://127.0.0.1:9/', sec(['127.0.0.1'])))!, /internal address/);
  assert.match((await outboundRefusal('http://[::1]:9/', sec(['::1'])))!, /internal address ::1/);
  // localhost resolves to a loopback address: refused although listed.
  assert.match((await outboundRefusal('http://localhost:9/', sec(['localhost'])))!, /internal address|cannot be resolved/);
  assert.equal(await outboundRefusal('http://127.0.0.1:9/', sec(['127.0.0.1'], true)), undefined);
  assert.equal(await outboundRefusal('https://8.8.8.8/', sec(['8.8.8.8'])), undefined);
});
