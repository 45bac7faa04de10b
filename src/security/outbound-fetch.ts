import net, { type LookupFunction } from 'node:net';
import type { Agent, RequestInit, Response } from 'undici';
import { addressesRefusal, systemResolver, type OutboundPolicy } from './hosts.js';

/** A connection refused by the outbound guard; `reason` says which address and why. */
export class OutboundRefused extends Error {
  constructor(readonly reason: string) {
    super(`connection refused by the outbound guard: ${reason}`);
    this.name = 'OutboundRefused';
  }
}

/**
 * `fetch` for hrefs and callbacks (DESIGN §8). The address is decided when the socket is opened,
 * not only when the URL was checked: the lookup handed to `net.connect` resolves the name once more
 * and refuses it if any answer is internal, and an IP literal is classified before connecting. A
 * name whose answer changes between the check at submission and the connection (DNS rebinding)
 * therefore never reaches an internal address, on the first request and on every redirect hop
 * (callers follow redirects themselves, with `redirect: 'manual'`, and check each new host).
 *
 * Throws {@link OutboundRefused} when the guard refused the connection; other network errors as
 * `fetch` does.
 */
export async function guardedFetch(url: string | URL, init: RequestInit, policy: OutboundPolicy): Promise<Response> {
  // undici is loaded on the first outbound request (~0.1 s of start-up that runs without one do not pay).
  const undici = await import('undici');
  try {
    return await undici.fetch(url, { ...init, dispatcher: agentFor(policy, undici) });
  } catch (err) {
    const refused = refusalIn(err);
    throw refused ?? err;
  }
}

const agents = new WeakMap<OutboundPolicy, Agent>();

/** One connection pool per policy (a pooled socket was checked when it was opened, for its origin). */
function agentFor(policy: OutboundPolicy, undici: Pick<typeof import('undici'), 'Agent' | 'buildConnector'>): Agent {
  let agent = agents.get(policy);
  if (!agent) {
    const base = undici.buildConnector({ lookup: guardedLookup(policy) });
    agent = new undici.Agent({
      connect(options, callback) {
        // net.connect does not call `lookup` for an IP literal: classify it here.
        const host = options.hostname.replace(/^\[|\]$/g, '');
        if (!policy.allow_internal && net.isIP(host)) {
          const reason = addressesRefusal(host, [host]);
          if (reason) return callback(new OutboundRefused(reason), null);
        }
        base(options, callback);
      },
    });
    agents.set(policy, agent);
  }
  return agent;
}

/** The `lookup` given to net.connect: resolves with the policy's resolver and refuses internal answers. */
function guardedLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname, options, callback) => {
    const resolve = policy.resolve ?? systemResolver;
    resolve(hostname).then(
      (addresses) => {
        const reason = policy.allow_internal ? undefined : addressesRefusal(hostname, addresses);
        if (reason) return callback(new OutboundRefused(reason), '', 0);
        const family = typeof options.family === 'number' ? options.family : 0;
        const found = addresses
          .map((address) => ({ address, family: net.isIP(address) }))
          .filter((a) => family === 0 || a.family === family);
        if (found.length === 0) {
          const missing = Object.assign(new Error(`no IPv${family} address for ${hostname}`), { code: 'ENOTFOUND' });
          return callback(missing, '', 0);
        }
        // With autoSelectFamily (the default since Node 20) net asks for every address.
        if (options.all) (callback as unknown as (e: null, a: typeof found) => void)(null, found);
        else callback(null, found[0].address, found[0].family);
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}

function refusalIn(err: unknown): OutboundRefused | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof OutboundRefused) return e;
  }
  return undefined;
}
