import type { EndpointsRecord, IngressClassRecord, IngressRecord, ServiceRecord } from '@ingressfed/schemas';
import type { ClusterSnapshot } from './types.js';

// Record builders for the pure tests of merge, plan and status.

const src = (ts = '2026-01-01T00:00:00Z', uid = 'u') => ({ uid, resourceVersion: '1', creationTimestamp: ts });

export function snapshot(name: string, zone: string, parts: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return {
    name,
    info: { schema: 1, cluster: name, zone, region: null, endpointMode: 'pod', spokeVersion: 't', epoch: 'e', startedAt: 0 },
    heartbeat: undefined,
    ingressClasses: [ingressClass(name)],
    ingresses: [],
    services: [],
    endpoints: [],
    ...parts,
  };
}

export function ingressClass(cluster: string, name = 'ingressfed', isDefault = true, annotations: Record<string, string> = {}): IngressClassRecord {
  return { schema: 1, cluster, kind: 'ingressclass', epoch: 'e', observedAt: 0, revision: '1', source: src(), name, spec: { controller: 'ingressfed.io/hub', isDefault, annotations } };
}

export interface RuleSpec { host?: string; path?: string; pathType?: 'Exact' | 'Prefix' | 'ImplementationSpecific'; service: string; port?: number }

export function ingress(cluster: string, name: string, rules: RuleSpec[], opts: { created?: string; annotations?: Record<string, string>; className?: string | null; defaultBackend?: string } = {}): IngressRecord {
  const byHost = new Map<string, RuleSpec[]>();
  for (const r of rules) byHost.set(r.host ?? '', [...(byHost.get(r.host ?? '') ?? []), r]);
  return {
    schema: 1, cluster, kind: 'ingress', epoch: 'e', observedAt: 0, revision: '1', source: src(opts.created, `uid-${cluster}-${name}`), namespace: 'default', name,
    spec: {
      className: opts.className === undefined ? 'ingressfed' : opts.className,
      annotations: opts.annotations ?? {},
      defaultBackend: opts.defaultBackend ? { service: { name: opts.defaultBackend, port: { number: 80 } } } : null,
      rules: [...byHost.entries()].map(([host, rs]) => ({
        host,
        paths: rs.map((r) => ({ path: r.path ?? '/', pathType: r.pathType ?? 'Prefix', backend: { service: { name: r.service, port: { number: r.port ?? 80 } } } })),
      })),
      tls: [],
    },
  };
}

export function service(cluster: string, name: string): ServiceRecord {
  return {
    schema: 1, cluster, kind: 'service', epoch: 'e', observedAt: 0, revision: '1', source: src(), namespace: 'default', name,
    spec: { type: 'ClusterIP', annotations: {}, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: null }], loadBalancerIngress: [] },
  };
}

export function endpoints(cluster: string, name: string, addrs: Array<string | { address: string; ready?: boolean; terminating?: boolean; zone?: string }>): EndpointsRecord {
  return {
    schema: 1, cluster, kind: 'endpoints', epoch: 'e', observedAt: 0, revision: '1', source: src(), namespace: 'default', name,
    spec: {
      endpoints: addrs.map((a) => {
        const e = typeof a === 'string' ? { address: a } : a;
        return { address: e.address, ready: e.ready ?? true, serving: e.ready ?? true, terminating: e.terminating ?? false, zone: e.zone ?? null, nodeName: null,
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' as const }] };
      }),
    },
  };
}

