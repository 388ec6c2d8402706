import ipaddr from 'ipaddr.js';

/** A parsed CIDR allowlist. IPv4-mapped IPv6 client addresses (::ffff:a.b.c.d) match IPv4 ranges. */
export type Allowlist = readonly (readonly [ipaddr.IPv4 | ipaddr.IPv6, number])[];

/**
 * How a refused address is named in an error's detail: quoted when it only holds the characters
 * of an address (so a typo is easy to spot), otherwise not echoed at all, because a client that
 * puts a secret where an address belongs (a key in `ip`, say) must not see it in answers or logs.
 * @example quotedAddress('1.2.3') // '"1.2.3"'; quotedAddress('kw_live_…') // '(a 40-character value, not echoed)'
 */
export function quotedAddress(text: string): string {
  return text.length <= 45 && /^[0-9A-Fa-f:./]*$/.test(text)
    ? `"${text}"`
    : `(a ${text.length}-character value, not echoed)`;
}

export function isCidr(text: string): boolean {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
}

/** Only the canonical textual forms: dotted-quad IPv4 and IPv6 (no `0x7f.1` or bare integers). */
function isStrictIp(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || (text.includes(':') && ipaddr.IPv6.isValid(text));
}

function parseCidr(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  const slash = text.indexOf('/');
  const host = slash < 0 ? text : text.slice(0, slash);
  if (!isStrictIp(host)) throw new Error(`not an IP address: ${host}`);
  if (slash < 0) {
    const addr = ipaddr.parse(text);
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  }
  if (!/^\d{1,3}$/.test(text.slice(slash + 1))) throw new Error('invalid prefix length');
  // Host bits are allowed (1.2.3.4/24 means 1.2.3.0/24), as most firewalls accept.
  return ipaddr.parseCIDR(text);
}

export function compileAllowlist(cidrs: readonly string[]): Allowlist {
  return cidrs.map(parseCidr);
}

export function parseIp(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (!isStrictIp(ip)) return null;
  const addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address();
  }
  return addr;
}

export function isValidIp(ip: string): boolean {
  return isStrictIp(ip);
}

/** An empty allowlist allows every address; a non-empty one needs a known, matching `ip`. */
export function ipAllowed(list: Allowlist, ip: string | undefined): boolean {
  if (list.length === 0) return true;
  if (ip === undefined) return false;
  const addr = parseIp(ip);
  if (addr === null) return false;
  for (const [range, bits] of list) {
    if (range.kind() === addr.kind() && addr.match(range, bits)) return true;
  }
  return false;
}
