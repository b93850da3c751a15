import { BlockList, isIP } from 'node:net';

/**
 * Which endpoint addresses a cluster may send the edges to. Endpoints come from untrusted clusters:
 * an EndpointSlice naming 127.0.0.1, 0.0.0.0 or 169.254.169.254 would make the public entry point a
 * proxy to the edge host itself (its Data Plane API, the hub API) or to a cloud metadata service.
 * Refused by default: unspecified, loopback, link-local, multicast and broadcast addresses (IPv4
 * mapped into IPv6 is judged as the IPv4 address it holds), and the edges' own addresses. An operator may allow CIDRs per cluster (or for
 * every cluster, `*`); an allowed CIDR lifts the default refusals, never the edges' own addresses.
 */
export class EndpointPolicy {
  private readonly refused = new CidrSet();
  private readonly edges = new CidrSet();
  private readonly allowed = new Map<string, CidrSet>();

  constructor(opts: { allowedCidrs?: Record<string, readonly string[]>; edgeAddresses?: readonly string[] } = {}) {
    for (const cidr of DEFAULT_REFUSED) this.refused.add(cidr);
    for (const a of opts.edgeAddresses ?? []) if (isIP(a) !== 0) this.edges.add(a);
    for (const [cluster, cidrs] of Object.entries(opts.allowedCidrs ?? {})) {
      const set = new CidrSet();
      for (const cidr of cidrs) set.add(cidr);
      this.allowed.set(cluster, set);
    }
  }

  /** Why `cluster` may not send traffic to `address`, or undefined when it may. */
  problem(cluster: string, address: string): string | undefined {
    const ip = parseIp(address);
    if (this.edges.has(ip)) return `${address} is an address of an edge`;
    if (!this.refused.has(ip)) return undefined;
    for (const key of [cluster, '*']) if (this.allowed.get(key)?.has(ip)) return undefined;
    return `${address} is a loopback, unspecified, link-local, multicast or broadcast address (allow it with allowedEndpointCidrs)`;
  }
}

const DEFAULT_REFUSED = [
  '0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '255.255.255.255/32',
  '::/128', '::1/128', 'fe80::/10', 'ff00::/8',
];

/** An address as CidrSet checks it: IPv4 as a number (fast: a hundred thousand endpoints per recompute), else the text. */
type ParsedIp = { v4: number } | { v6: string };

function parseIp(address: string): ParsedIp {
  const dotted = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  const parts = dotted.split('.');
  if (parts.length === 4 && isIP(dotted) === 4) return { v4: parts.reduce((n, p) => n * 256 + Number(p), 0) };
  return { v6: address };
}

/** A set of CIDRs: IPv4 ones matched with integer masks, IPv6 ones (and IPv4 in hexadecimal IPv6 form) by a BlockList. */
class CidrSet {
  private readonly v4: Array<{ net: number; size: number }> = [];
  private readonly v6 = new BlockList();

  /** Adds a CIDR (`10.0.0.0/8`, `fd00::/8`, or one address); throws a clear error when it is not one. */
  add(cidr: string): void {
    const [net = '', bits, extra] = cidr.split('/');
    const v = extra === undefined ? isIP(net) : 0;
    const prefix = bits === undefined ? (v === 6 ? 128 : 32) : Number(bits);
    if (v === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (v === 6 ? 128 : 32) || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
      throw new Error(`'${cidr.slice(0, 60)}' is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)`);
    }
    this.v6.addSubnet(net, prefix, v === 6 ? 'ipv6' : 'ipv4');
    if (v === 4) {
      const size = 2 ** (32 - prefix);
      const n = (parseIp(net) as { v4: number }).v4;
      this.v4.push({ net: n - (n % size), size });
    }
  }

  has(ip: ParsedIp): boolean {
    if ('v4' in ip) return this.v4.some((c) => ip.v4 - c.net >= 0 && ip.v4 - c.net < c.size);
    return this.v6.check(ip.v6, 'ipv6');
  }
}

/** Checks a CIDR list (hub configuration); answers the first problem. */
export function cidrProblem(cidrs: readonly string[]): string | undefined {
  try {
    const set = new CidrSet();
    for (const c of cidrs) set.add(c);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
