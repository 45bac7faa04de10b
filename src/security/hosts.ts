import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { classifyAddress } from './addresses.js';

export { isInternalAddress } from './addresses.js';

/** Resolves a host name to its IP addresses (the system's resolver by default; tests inject their own). */
export type Resolver = (hostname: string) => Promise<string[]>;

/**
 * What outbound requests may reach: `security` from the config, plus the resolver. The same policy
 * guards http(s) hrefs and subscriber callbacks, at submission and again at connection time
 * (see `outbound-fetch.ts`).
 */
export interface OutboundPolicy {
  allowed_hosts: readonly string[];
  allow_internal: boolean;
  /** Not from YAML: the resolver to use instead of the system's (tests, to answer without real DNS). */
  resolve?: Resolver;
}

export const systemResolver: Resolver = async (hostname) => (await lookup(hostname, { all: true })).map((a) => a.address);

/**
 * Outbound request guard for http(s) hrefs and subscriber callbacks (DESIGN §8): only hosts listed
 * in `security.allowed_hosts`, and only public addresses unless `security.allow_internal` says so
 * (server-side request forgery). This is the early check that gives a 400 at submission; the
 * connection itself is checked again, on the address actually connected to.
 * Returns undefined when allowed, else the reason.
 */
export async function outboundRefusal(rawUrl: string, policy: OutboundPolicy): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `scheme ${url.protocol} is not allowed`;
  if (url.username || url.password) return 'URLs with credentials are not allowed';
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!hostListed(host, policy.allowed_hosts)) return `host '${host}' is not in security.allowed_hosts`;
  if (policy.allow_internal) return undefined;
  let addresses: string[];
  try {
    addresses = net.isIP(host) ? [host] : await (policy.resolve ?? systemResolver)(host);
  } catch {
    return `host '${host}' cannot be resolved`;
  }
  return addressesRefusal(host, addresses);
}

/** Why a host's resolved addresses may not be reached (any internal one refuses them all), or undefined. */
export function addressesRefusal(host: string, addresses: readonly string[]): string | undefined {
  if (addresses.length === 0) return `host '${host}' cannot be resolved`;
  for (const address of addresses) {
    let kind: ReturnType<typeof classifyAddress>;
    try {
      kind = classifyAddress(address);
    } catch {
      return `host '${host}' resolves to '${address}', which is not an IP address`;
    }
    if (!kind.public) {
      const via = kind.embedded ? ` carrying ${kind.embedded}` : '';
      return `host '${host}' resolves to the internal address ${address} (${kind.range}${via})`;
    }
  }
  return undefined;
}

export function hostListed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    if (p === '*') return true;
    if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
    return host === p;
  });
}
