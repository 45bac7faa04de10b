import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyAddress, isInternalAddress } from '../../src/security/addresses.js';
import { outboundRefusal, type OutboundPolicy } from '../../src/security/hosts.js';

/** [address, range ipaddr.js names, public?] — every special-purpose block, with neighbours that are public. */
const IPV4: [string, string, boolean][] = [
  ['127.0.0.1', 'loopback', false],
  ['127.255.255.254', 'loopback', false],
  ['126.255.255.255', 'unicast', true],
  ['128.0.0.0', 'unicast', true],
  ['10.0.0.0', 'private', false],
  ['10.255.255.255', 'private', false],
  ['11.0.0.0', 'unicast', true],
  ['9.255.255.255', 'unicast', true],
  ['172.16.0.0', 'private', false],
  ['172.31.255.255', 'private', false],
  ['172.15.255.255', 'unicast', true],
  ['172.32.0.0', 'unicast', true],
  ['192.168.0.1', 'private', false],
  ['192.169.0.1', 'unicast', true],
  ['192.167.255.255', 'unicast', true],
  ['100.64.0.0', 'carrierGradeNat', false],
  ['100.127.255.255', 'carrierGradeNat', false],
  ['100.63.255.255', 'unicast', true],
  ['100.128.0.0', 'unicast', true],
  ['169.254.169.254', 'linkLocal', false],
  ['169.254.0.1', 'linkLocal', false],
  ['169.253.255.255', 'unicast', true],
  ['224.0.0.1', 'multicast', false],
  ['239.255.255.255', 'multicast', false],
  ['223.255.255.255', 'unicast', true],
  ['255.255.255.255', 'broadcast', false],
  ['240.0.0.1', 'reserved', false],
  ['255.255.255.254', 'reserved', false],
  ['0.0.0.0', 'unspecified', false],
  ['0.1.2.3', 'unspecified', false],
  ['1.0.0.0', 'unicast', true],
  ['198.18.0.1', 'reserved', false],
  ['198.19.255.255', 'reserved', false], // benchmarking, RFC 2544
  ['198.17.255.255', 'unicast', true],
  ['198.20.0.0', 'unicast', true],
  ['192.0.2.1', 'reserved', false],
  ['198.51.100.7', 'reserved', false],
  ['203.0.113.9', 'reserved', false], // documentation
  ['203.0.114.1', 'unicast', true],
  ['198.51.101.1', 'unicast', true],
  ['192.0.0.8', 'reserved', false],
  ['192.88.99.1', 'reserved', false], // IETF assignments, 6to4 relay anycast
  ['192.175.48.1', 'as112', false],
  ['192.52.193.1', 'amt', false],
  ['8.8.8.8', 'unicast', true],
  ['1.1.1.1', 'unicast', true],
  ['93.184.216.34', 'unicast', true],
];

const IPV6: [string, string, boolean][] = [
  ['::1', 'loopback', false],
  ['::', 'unspecified', false],
  ['::2', 'unicast', false],
  // IPv4-mapped (RFC 4291 §2.5.5.2): judged by the IPv4 address, whatever the spelling.
  ['::ffff:127.0.0.1', 'ipv4Mapped', false],
  ['::ffff:7f00:1', 'ipv4Mapped', false],
  ['::FFFF:7F00:0001', 'ipv4Mapped', false],
  ['0:0:0:0:0:ffff:127.0.0.1', 'ipv4Mapped', false],
  ['::ffff:10.0.0.1', 'ipv4Mapped', false],
  ['::ffff:169.254.169.254', 'ipv4Mapped', false],
  ['::ffff:0.0.0.0', 'ipv4Mapped', false],
  ['::ffff:8.8.8.8', 'ipv4Mapped', true],
  ['::ffff:808:808', 'ipv4Mapped', true],
  // IPv4-translated (RFC 6145).
  ['::ffff:0:127.0.0.1', 'rfc6145', false],
  ['::ffff:0:8.8.8.8', 'rfc6145', true],
  // IPv4-compatible (deprecated, RFC 4291 §2.5.5.1): outside 2000::/3, never a target.
  ['::127.0.0.1', 'unicast', false],
  ['::7f00:1', 'unicast', false],
  ['::8.8.8.8', 'unicast', false],
  // NAT64 (RFC 6052 well-known prefix; RFC 8215 local use).
  ['64:ff9b::7f00:1', 'rfc6052', false],
  ['64:ff9b::127.0.0.1', 'rfc6052', false],
  ['64:ff9b::a00:1', 'rfc6052', false],
  ['64:ff9b::c0a8:1', 'rfc6052', false],
  ['64:ff9b::8.8.8.8', 'rfc6052', true],
  ['64:ff9b:1::8.8.8.8', 'rfc6052', false],
  ['64:ff9b:1:ffff::1', 'rfc6052', false],
  ['64:ff9b:0:1::1', 'unicast', false],
  // 6to4 (RFC 3056): 2002:V4ADDR::/48.
  ['2002:7f00:1::1', '6to4', false],
  ['2002:c0a8:101::1', '6to4', false],
  ['2002:a9fe:a9fe::1', '6to4', false],
  ['2002:808:808::1', '6to4', true],
  // Teredo (RFC 4380): server IPv4 in bits 32-63, client IPv4 inverted in the last 32 bits.
  ['2001:0:808:808::fefe:fefe', 'teredo', true],
  ['2001:0:808:808::80ff:fffe', 'teredo', false],
  ['2001:0:a00:1::fefe:fefe', 'teredo', false],
  ['fe80::1', 'linkLocal', false],
  ['febf:ffff::1', 'linkLocal', false],
  ['fe80::1%eth0', 'linkLocal', false],
  ['::ffff:127.0.0.1%lo', 'ipv4Mapped', false],
  ['fc00::1', 'uniqueLocal', false],
  ['fd12:3456::1', 'uniqueLocal', false],
  ['fdff:ffff::1', 'uniqueLocal', false],
  ['ff02::1', 'multicast', false],
  ['ff0e::101', 'multicast', false],
  ['fec0::1', 'deprecatedSiteLocal', false],
  ['2001:db8::1', 'reserved', false],
  ['3fff::1', 'reserved', false], // documentation
  ['2001:2::1', 'benchmarking', false],
  ['2001:20::1', 'orchid2', false],
  ['100::1', 'discard', false],
  ['2001:3::1', 'amt', false],
  ['2001:4:112::1', 'as112v6', false],
  ['4000::1', 'unicast', false],
  ['1::1', 'unicast', false],
  ['5f00::1', 'segmentRouting', false],
  ['2001:4860:4860::8888', 'unicast', true],
  ['2606:4700:4700::1111', 'unicast', true],
  ['2a00:1450:4007::1', 'unicast', true],
  ['3ffe:ffff::1', 'unicast', true],
];

test('classifyAddress: every IPv4 special-purpose block refused, its public neighbours allowed', () => {
  for (const [address, range, isPublic] of IPV4) {
    const c = classifyAddress(address);
    assert.equal(c.range, range, address);
    assert.equal(c.public, isPublic, `${address} (${c.range}) public?`);
    assert.equal(isInternalAddress(address), !isPublic, address);
  }
});

test('classifyAddress: IPv6 by its binary form; forms carrying an IPv4 address judged by it', () => {
  for (const [address, range, isPublic] of IPV6) {
    const c = classifyAddress(address);
    assert.equal(c.range, range, address);
    assert.equal(c.public, isPublic, `${address} (${c.range}${c.embedded ? ' carrying ' + c.embedded : ''}) public?`);
    assert.equal(isInternalAddress(address), !isPublic, address);
  }
  assert.equal(classifyAddress('::ffff:7f00:1').embedded, '127.0.0.1');
  assert.equal(classifyAddress('2001:0:808:808::80ff:fffe').embedded, '8.8.8.8, 127.0.0.1');
  assert.equal(classifyAddress('[::ffff:7f00:1]').address, '::ffff:7f00:1');
});

test('isInternalAddress: text that is not an address counts as internal', () => {
  for (const text of ['', 'localhost', '::ffff:300.0.0.1', '1.2.3.4.5', 'fe80::1::2', '127.1', '0x7f.0.0.1', '0177.0.0.1'])
    assert.equal(isInternalAddress(text), true, text);
});

test('outboundRefusal with allowed_hosts ["*"]: every spelling of an internal address is refused before any connection', async () => {
  const policy: OutboundPolicy = { allowed_hosts: ['*'], allow_internal: false };
  const spellings = [
    'http://[::ffff:127.0.0.1]:9/',
    'http://[::ffff:7f00:1]:9/',
    'http://[::127.0.0.1]:9/',
    'http://[64:ff9b::7f00:1]:9/',
    'http://[0:0:0:0:0:ffff:7f00:1]/',
    'http://[::ffff:0:7f00:1]/',
    'http://[2002:7f00:1::1]/',
    'http://[2001:0:808:808::80ff:fffe]/',
    'http://[64:ff9b:1::7f00:1]/',
    'http://[fe80::1]/',
    'http://[fd00::1]/',
    'http://[ff02::1]/',
    'http://[::]/',
    'http://[::1]/',
    'http://2130706433/',
    'http://0x7f.1/',
    'http://127.1/',
    'http://0177.0.0.1/',
    'http://0/',
    'http://100.64.0.1/',
    'http://198.18.0.1/',
    'http://192.0.2.1/',
    'http://255.255.255.255/',
    'http://224.0.0.1/',
    'https://169.254.169.254/latest',
  ];
  for (const url of spellings) assert.match((await outboundRefusal(url, policy)) ?? 'allowed', /internal address/, url);
  assert.equal(await outboundRefusal('http://[::ffff:8.8.8.8]/', policy), undefined);
  assert.equal(await outboundRefusal('http://[2002:808:808::1]/', policy), undefined);
});

test('outboundRefusal resolves names with the injected resolver: any internal answer refuses the name', async () => {
  const answers: Record<string, string[]> = {
    'public.test': ['93.184.216.34', '2606:2800:220:1::1'],
    'mixed.test': ['93.184.216.34', '::ffff:10.0.0.1'],
    'nat64.test': ['64:ff9b::a9fe:a9fe'],
    'empty.test': [],
  };
  const policy: OutboundPolicy = {
    allowed_hosts: ['*'],
    allow_internal: false,
    resolve: async (h) => answers[h] ?? Promise.reject(new Error('ENOTFOUND')),
  };
  assert.equal(await outboundRefusal('http://public.test/', policy), undefined);
  assert.match(
    (await outboundRefusal('http://mixed.test/', policy))!,
    /internal address ::ffff:10\.0\.0\.1 \(ipv4Mapped carrying 10\.0\.0\.1\)/,
  );
  assert.match((await outboundRefusal('http://nat64.test/', policy))!, /rfc6052 carrying 169\.254\.169\.254/);
  assert.match((await outboundRefusal('http://empty.test/', policy))!, /cannot be resolved/);
  assert.match((await outboundRefusal('http://unknown.test/', policy))!, /cannot be resolved/);
  assert.equal(await outboundRefusal('http://mixed.test/', { ...policy, allow_internal: true }), undefined);
});
