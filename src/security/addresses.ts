import net from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * What an IP address is, for the outbound guard (DESIGN §8): `public` is the only kind hrefs and
 * callbacks may reach without `security.allow_internal`. `range` names the special-purpose block
 * (IANA IPv4/IPv6 Special-Purpose Address Registries, as ipaddr.js names them) and, for an IPv6
 * address that carries an IPv4 address, `embedded` is that IPv4 address, which decides.
 */
export interface AddressClass {
  /** The address in canonical form (lower case, shortest IPv6 form, dotted IPv4). */
  address: string;
  range: string;
  public: boolean;
  embedded?: string;
}

// The IPv6 space the IANA allocates for global unicast (RFC 4291 §2.4): everything else (::/8
// including the deprecated IPv4-compatible ::/96, 100::/8, 5f00::/16, fc00::/7, fe80::/10, ...)
// is never a target on the Internet.
const globalUnicast = ipaddr.IPv6.parse('2000::');

/**
 * Classifies an IP address from its binary form, whatever its spelling (`::ffff:7f00:1` and
 * `::ffff:127.0.0.1` are one address). Throws for text that is not an IP address.
 *
 * The decision is an allow list: IPv4 must be ordinary unicast (not loopback, private, CGNAT,
 * link-local, multicast, broadcast, unspecified, reserved, benchmarking, documentation, AS112, AMT);
 * IPv6 must be ordinary unicast inside 2000::/3 (not 6to4/Teredo/NAT64 relays of an internal IPv4,
 * not documentation, benchmarking, ORCHID, ...). IPv6 forms that carry an IPv4 address are judged by
 * that IPv4 address: IPv4-mapped (RFC 4291 §2.5.5.2) and IPv4-translated (RFC 6145) — which the
 * kernel connects to as the IPv4 address itself —, the NAT64 well-known prefix 64:ff9b::/96
 * (RFC 6052 §2.1), 6to4 2002:V4::/48 (RFC 3056 §2) and Teredo (RFC 4380 §4: server in bits 32–63,
 * client in the last 32 bits, inverted). The NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215) has
 * no fixed place for the IPv4 address and is refused.
 */
export function classifyAddress(text: string): AddressClass {
  const parsed = parseAddress(text);
  if (parsed.kind() === 'ipv4') {
    const v4 = parsed as ipaddr.IPv4;
    const range = v4.range();
    return { address: v4.toString(), range, public: range === 'unicast' };
  }
  const v6 = parsed as ipaddr.IPv6;
  const address = v6.toString();
  const range = v6.range();
  const embedded = embeddedIPv4(v6, range);
  if (embedded === null) return { address, range, public: false };
  if (embedded) {
    const judged = embedded.every((v4) => v4.range() === 'unicast');
    return { address, range, public: judged, embedded: embedded.map(String).join(', ') };
  }
  return { address, range, public: range === 'unicast' && v6.match(globalUnicast, 3) };
}

/**
 * The binary form of an address as the socket layer reads it. ipaddr.js alone would read the
 * deprecated `::a.b.c.d` as `::ffff:a.b.c.d` and accepts IPv4 shorthand (`127.1`, `0x7f.1`) that a
 * resolver never returns, so IPv4 must be a plain dotted quad and IPv6 goes through the WHATWG URL
 * host parser first (the parser fetch itself uses), which writes any spelling in hexadecimal
 * groups (RFC 5952 form). A zone index (`fe80::1%eth0`) does not change the range and is dropped.
 */
function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const bare = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (net.isIPv4(bare)) return ipaddr.IPv4.parse(bare);
  if (net.isIPv6(bare)) return ipaddr.IPv6.parse(new URL(`http://[${bare}]/`).hostname.slice(1, -1));
  throw new Error(`'${text}' is not an IP address`);
}

/**
 * The IPv4 address(es) an IPv6 address carries, undefined when it carries none, null when it
 * should carry one but its place is not fixed (local-use NAT64 prefixes).
 */
function embeddedIPv4(v6: ipaddr.IPv6, range: string): ipaddr.IPv4[] | null | undefined {
  const b = v6.toByteArray();
  const v4 = (at: number, invert = false) => new ipaddr.IPv4(b.slice(at, at + 4).map((x) => (invert ? ~x & 0xff : x)));
  switch (range) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return [v4(12)];
    case 'rfc6052':
      // 64:ff9b::/96 puts the IPv4 address last; 64:ff9b:1::/48 is local use with any prefix length.
      return b[4] === 0 && b[5] === 0 ? [v4(12)] : null;
    case '6to4':
      return [v4(2)];
    case 'teredo':
      return [v4(4), v4(12, true)];
    default:
      return undefined;
  }
}

/** True unless the address is ordinary public unicast (see {@link classifyAddress}); true for non-addresses. */
export function isInternalAddress(text: string): boolean {
  try {
    return !classifyAddress(text).public;
  } catch {
    return true;
  }
}
