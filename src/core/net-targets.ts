import ipaddr from 'ipaddr.js';

/**
 * Which addresses a webhook may reach. A webhook makes the server send requests where an admin
 * says, so without this rule it is a way into the server's own network (an internal port scanner,
 * the cloud metadata service). Only public unicast addresses pass; each refusal names its rule.
 */
export type TargetRule =
  'loopback' | 'private' | 'link-local' | 'multicast' | 'broadcast' | 'unspecified' | 'reserved';

/** What a refusal says about each rule (for the 422's detail and the docs). */
export const TARGET_RULES: Record<TargetRule, string> = {
  loopback: 'a loopback address (127.0.0.0/8, ::1)',
  private: 'a private address (RFC 1918, 100.64.0.0/10, fc00::/7)',
  'link-local': 'a link-local address (169.254.0.0/16, fe80::/10, cloud metadata services)',
  multicast: 'a multicast address (224.0.0.0/4, ff00::/8)',
  broadcast: 'the broadcast address',
  unspecified: 'an unspecified address (0.0.0.0/8, ::)',
  reserved: 'a reserved or special-purpose address',
};

const V4_RULES: Record<string, TargetRule | null> = {
  unicast: null,
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'private',
  private: 'private',
};

const V6_RULES: Record<string, TargetRule | null> = {
  unicast: null,
  unspecified: 'unspecified',
  linkLocal: 'link-local',
  multicast: 'multicast',
  loopback: 'loopback',
  uniqueLocal: 'private',
  deprecatedSiteLocal: 'private',
};

function v4Rule(a: ipaddr.IPv4): TargetRule | null {
  const r = V4_RULES[a.range()];
  return r === undefined ? 'reserved' : r;
}

function embeddedV4(parts: number[], at: number): ipaddr.IPv4 {
  const hi = parts[at] ?? 0;
  const lo = parts[at + 1] ?? 0;
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/**
 * The rule that refuses `address` (an IPv4 or IPv6 literal), or null for a public unicast one.
 * IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
 * NAT64 `64:ff9b::/96`, SIIT, 6to4) are judged by that IPv4 address. Not an address: 'reserved'.
 */
export function refusedTarget(address: string): TargetRule | null {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    a = ipaddr.parse(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  } catch {
    return 'reserved';
  }
  if (a.kind() === 'ipv4') return v4Rule(a as ipaddr.IPv4);
  const v6 = a as ipaddr.IPv6;
  const range = v6.range();
  const p = v6.parts;
  if (range === 'ipv4Mapped' || range === 'rfc6145') return v4Rule(embeddedV4(p, 6));
  if (range === 'rfc6052' && p[2] === 0) return v4Rule(embeddedV4(p, 6));
  if (range === '6to4') return v4Rule(embeddedV4(p, 1));
  // ::a.b.c.d (deprecated IPv4-compatible): all zero but the last 32 bits.
  if (range === 'unicast' && p.slice(0, 6).every((x) => x === 0)) return v4Rule(embeddedV4(p, 6));
  const r = V6_RULES[range];
  return r === undefined ? 'reserved' : r;
}
