import { hostProblem, isDnsLabel } from '@ingressfed/schemas';

/**
 * One rule of the host policy: the hosts it covers and who may serve them. A pattern is a host
 * (`api.example.com`), a domain and everything under it (`*.example.com`: `a.example.com`,
 * `a.b.example.com` and the wildcard host `*.example.com`, not `example.com` itself), or `*`: rules
 * without a host and default backends, which answer for every host.
 */
export interface HostRule {
  hosts: string[];
  clusters: string[];
  /** When given, only these namespaces of those clusters. */
  namespaces?: string[];
}

/** The pattern of rules without a host and of default backends. */
export const EVERY_HOST = '*';

/**
 * Which clusters (and namespaces) may serve which hosts. A host covered by a rule (the most specific
 * pattern decides) may be served only by who the rule names; a cluster outside it cannot capture the
 * host with an older Ingress or a longer path, since its Ingress is refused before routes compete.
 * Hosts no rule covers are open to every cluster (the oldest Ingress wins).
 */
export class HostPolicy {
  private readonly exact = new Map<string, HostRule>();
  /** `*.example.com` is kept as `example.com`. */
  private readonly under = new Map<string, HostRule>();

  constructor(rules: readonly HostRule[] = []) {
    for (const rule of rules) {
      for (const h of rule.hosts) {
        if (h.startsWith('*.')) this.under.set(h.slice(2), rule);
        else this.exact.set(h, rule);
      }
    }
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.under.size === 0;
  }

  /** The rule covering `host` ('' for a rule without a host or a default backend), if any. */
  ruleFor(host: string): { pattern: string; rule: HostRule } | undefined {
    const key = host === '' ? EVERY_HOST : host;
    const exact = this.exact.get(key);
    if (exact) return { pattern: key, rule: exact };
    const labels = key.split('.');
    for (let i = 1; i < labels.length; i++) {
      const domain = labels.slice(i).join('.');
      const rule = this.under.get(domain);
      if (rule) return { pattern: `*.${domain}`, rule };
    }
    return undefined;
  }

  /** Why `cluster`/`namespace` may not serve `host`, or undefined when it may. */
  problem(host: string, cluster: string, namespace: string): string | undefined {
    const found = this.ruleFor(host);
    if (!found) return undefined;
    const { pattern, rule } = found;
    if (rule.clusters.includes(cluster) && (rule.namespaces === undefined || rule.namespaces.includes(namespace))) return undefined;
    const who = `cluster${rule.clusters.length === 1 ? '' : 's'} ${rule.clusters.join(', ')}${rule.namespaces ? ` (namespace${rule.namespaces.length === 1 ? '' : 's'} ${rule.namespaces.join(', ')})` : ''}`;
    const what = host === '' ? 'rules without a host and default backends' : `host '${host}'`;
    return `${what} may be served only by ${who}: hostPolicy '${pattern}' of the hub`;
  }
}

/** Problems of a host policy as configured, each with its place (`hostPolicy[i]…`). */
export function hostPolicyProblems(rules: readonly HostRule[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  rules.forEach((rule, i) => {
    const at = `hostPolicy[${i}]`;
    for (const h of rule.hosts) {
      const hp = h === EVERY_HOST ? undefined : hostProblem(h);
      if (hp) problems.push(`${at}.hosts: '${h.slice(0, 80)}' ${hp}`);
      const before = seen.get(h);
      if (before !== undefined) problems.push(`${at}.hosts: '${h.slice(0, 80)}' is already covered by hostPolicy[${before}]`);
      seen.set(h, i);
    }
    if (rule.clusters.length === 0) problems.push(`${at}.clusters: name at least one cluster`);
    for (const c of rule.clusters) if (!isDnsLabel(c)) problems.push(`${at}.clusters: '${c.slice(0, 80)}' is not a cluster name`);
    for (const n of rule.namespaces ?? []) if (!isDnsLabel(n)) problems.push(`${at}.namespaces: '${n.slice(0, 80)}' is not a namespace name`);
  });
  return problems;
}
