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
  private readonly refused = new BlockList();
  private readonly edges = new BlockList();
  private readonly allowed = new Map<string, BlockList>();

  constructor(opts: { allowedCidrs?: Record<string, readonly string[]>; edgeAddresses?: readonly string[] } = {}) {
    for (const cidr of DEFAULT_REFUSED) addCidr(this.refused, cidr);
    for (const a of opts.edgeAddresses ?? []) if (isIP(a) !== 0) addCidr(this.edges, a);
    for (const [cluster, cidrs] of Object.entries(opts.allowedCidrs ?? {})) {
      const list = new BlockList();
      for (const cidr of cidrs) addCidr(list, cidr);
      this.allowed.set(cluster, list);
    }
  }

  /** Why `cluster` may not send traffic to `address`, or undefined when it may. */
  problem(cluster: string, address: string): string | undefined {
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (this.edges.check(address, type)) return `${address} is an address of an edge`;
    if (!this.refused.check(address, type)) return undefined;
    for (const key of [cluster, '*']) if (this.allowed.get(key)?.check(address, type)) return undefined;
    return `${address} is a loopback, unspecified, link-local, multicast or broadcast address (allow it with allowedEndpointCidrs)`;
  }
}

const DEFAULT_REFUSED = [
  '0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '255.255.255.255/32',
  '::/128', '::1/128', 'fe80::/10', 'ff00::/8',
];

/** Adds a CIDR (`10.0.0.0/8`, `fd00::/8`, or one address) to `list`; throws a clear error when it is not one. */
function addCidr(list: BlockList, cidr: string): void {
  const [net = '', bits, extra] = cidr.split('/');
  const v = extra === undefined ? isIP(net) : 0;
  const prefix = bits === undefined ? (v === 6 ? 128 : 32) : Number(bits);
  if (v === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (v === 6 ? 128 : 32) || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
    throw new Error(`'${cidr.slice(0, 60)}' is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)`);
  }
  list.addSubnet(net, prefix, v === 6 ? 'ipv6' : 'ipv4');
}

/** Checks a CIDR list (hub configuration); answers the first problem. */
export function cidrProblem(cidrs: readonly string[]): string | undefined {
  try {
    addAll(cidrs);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function addAll(cidrs: readonly string[]): void {
  const list = new BlockList();
  for (const c of cidrs) addCidr(list, c);
}
