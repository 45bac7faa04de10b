import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Config } from '../config.js';

/**
 * Outbound request guard for http(s) hrefs and subscriber callbacks (DESIGN §8): only hosts listed
 * in `security.allowed_hosts`, and never loopback, link-local or private addresses unless
 * `security.allow_internal` says so (server-side request forgery).
 * Returns undefined when allowed, else the reason.
 */
export async function outboundRefusal(rawUrl: string, security: Config['security']): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `scheme ${url.protocol} is not allowed`;
  if (url.username || url.password) return 'URLs with credentials are not allowed';
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!hostListed(host, security.allowed_hosts)) return `host '${host}' is not in security.allowed_hosts`;
  if (security.allow_internal) return undefined;
  let addresses: string[];
  try {
    addresses = net.isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return `host '${host}' cannot be resolved`;
  }
  const internal = addresses.find(isInternalAddress);
  return internal ? `host '${host}' resolves to the internal address ${internal}` : undefined;
}

export function hostListed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    if (p === '*') return true;
    if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
    return host === p;
  });
}

/** Loopback, private, link-local, unique-local, CGNAT, unspecified and multicast addresses. */
export function isInternalAddress(address: string): boolean {
  if (net.isIPv4(address)) {
    const [a, b] = address.split('.').map(Number);
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
  }
  const v6 = address.toLowerCase();
  if (v6 === '::' || v6 === '::1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  if (mapped) return isInternalAddress(mapped[1]);
  return /^(fc|fd|fe8|fe9|fea|feb|ff)/.test(v6);
}
