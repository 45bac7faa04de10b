import net, { type LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';

/**
 * A tripwire for the tests that hand the server a resolver answering a public address: every TCP
 * connection opened by this process (the in-process server included) is checked just before it
 * is made, and one to anything but loopback is stopped and recorded in `violations`. So a guard
 * that wrongly trusted a public answer fails its test without a packet leaving the machine.
 */
export const violations: string[] = [];

const loopback = (address: string) => /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);

let installed = false;

export function installLoopbackOnly(): void {
  if (installed) return;
  installed = true;
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = args[0];
    const options = (Array.isArray(first) ? first[0] : typeof first === 'object' ? first : undefined) as
      | (net.TcpNetConnectOpts & { lookup?: LookupFunction; path?: string })
      | undefined;
    if (options && options.host !== undefined && options.path === undefined) {
      const host = String(options.host).replace(/^\[|\]$/g, '');
      if (net.isIP(host)) {
        if (!loopback(host)) {
          violations.push(host);
          throw new Error(`loopback-only tripwire: connection to ${host} stopped`);
        }
      } else {
        const inner = options.lookup ?? (dnsLookup as unknown as LookupFunction);
        options.lookup = ((hostname: string, opts: { all?: boolean }, callback: (...a: unknown[]) => void) =>
          inner(hostname, opts as never, (err: unknown, address: unknown, family?: unknown) => {
            if (err) return callback(err, address, family);
            const list = Array.isArray(address) ? (address as { address: string }[]).map((a) => a.address) : [address as string];
            const outside = list.filter((a) => !loopback(a));
            if (outside.length > 0) {
              violations.push(...outside);
              return callback(new Error(`loopback-only tripwire: ${hostname} → ${outside.join(', ')} stopped`), '', 0);
            }
            callback(null, address, family);
          })) as LookupFunction;
      }
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
}
