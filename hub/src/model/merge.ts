import type { EndpointsRecord, ServiceRecord } from '@ingressfed/schemas';
import {
  backendKey, ingressKey,
  type BackendId, type ClusterSnapshot, type Conflict, type DefaultRoute, type FailoverPolicy,
  type FederatedModel, type HealthCheck, type IngressRef, type IngressState, type Route,
} from './types.js';
import {
  DEFAULT_HEALTH, backendsNamed, buildBackend, byText, classDefaults, examineIngress, finalState, olderFirst, refOrder, resolveRoute, routeKey, routeSort,
  type Candidate, type ClusterView,
} from './parts.js';
import type { EndpointPolicy } from './endpoint-policy.js';
import type { HostPolicy } from './host-policy.js';

export { DEFAULT_HEALTH, parseFailover, parseHealth } from './parts.js';

// Records of every cluster → one federated model, computed from scratch. Pure and deterministic: the
// same snapshots in any order give the same model. The hub keeps its model up to date incrementally
// (incremental.ts); this full merge is the reference it is tested against, and what the hub uses to
// try alternative record sets (isolating a refused change).

/** An indexed view of a snapshot. */
export function viewOf(snap: ClusterSnapshot): ClusterView {
  const services = new Map<string, ServiceRecord>(snap.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const endpoints = new Map<string, EndpointsRecord>(snap.endpoints.map((e) => [`${e.namespace}/${e.name}`, e]));
  return {
    name: snap.name,
    zone: snap.info?.zone ?? null,
    classes: snap.ingressClasses,
    service: (ns, name) => services.get(`${ns}/${name}`),
    endpoints: (ns, name) => endpoints.get(`${ns}/${name}`),
  };
}

export interface MergeOptions {
  /** Clusters silent past expireAfter: their endpoints leave every backend. */
  expired?: ReadonlySet<string>;
  /** Which endpoint addresses each cluster may send the edges to (default: all). */
  endpointPolicy?: EndpointPolicy;
  /** Which clusters may serve which hosts (default: any cluster any host). */
  hostPolicy?: HostPolicy;
}

export function mergeClusters(snapshots: ClusterSnapshot[], opts: MergeOptions = {}): FederatedModel {
  const snaps = [...snapshots].sort((a, b) => byText(a.name, b.name));
  const views = snaps.map(viewOf);
  const ingresses = new Map<string, IngressState>();
  const byRoute = new Map<string, Candidate[]>();
  const defaults: Array<{ ref: IngressRef; createdAt: string; backend: BackendId }> = [];
  // A backend's policies come from the first accepted Ingress naming it (by cluster, namespace, name).
  const policyOf = new Map<string, { ref: IngressRef; failover: FailoverPolicy; health: HealthCheck }>();

  for (const [i, view] of views.entries()) {
    for (const ing of (snaps[i] as ClusterSnapshot).ingresses) {
      const ex = examineIngress(ing, view, opts.hostPolicy);
      ingresses.set(ingressKey(ex.ref), ex.state);
      if (ex.state.state !== 'accepted') continue;
      for (const c of ex.candidates) {
        const list = byRoute.get(routeKey(c));
        if (list) list.push(c);
        else byRoute.set(routeKey(c), [c]);
      }
      if (ex.defaultBackend) defaults.push({ ref: ex.ref, createdAt: ex.createdAt, backend: ex.defaultBackend });
      for (const id of backendsNamed(ex)) {
        const had = policyOf.get(backendKey(id));
        if (!had || refOrder(ex.ref, had.ref) < 0) policyOf.set(backendKey(id), { ref: ex.ref, failover: ex.failover, health: ex.health });
      }
    }
  }

  const routes: Route[] = [];
  const conflicts: Conflict[] = [];
  const lost = new Map<string, string[]>();
  for (const list of byRoute.values()) {
    // Stable sort: an Ingress's own claims stay in the order it lists them.
    const r = resolveRoute(list.sort(olderFirst));
    routes.push(r.route);
    if (r.conflict) conflicts.push(r.conflict);
    for (const [k, why] of r.losers) lost.set(k, [...(lost.get(k) ?? []), why]);
  }
  for (const [k, reasons] of lost) ingresses.set(k, finalState(ingresses.get(k) as IngressState, reasons));
  routes.sort(routeSort);
  conflicts.sort(routeSort);

  defaults.sort(olderFirst);
  const classProblems = new Map<string, string>();
  const fromClass = views.flatMap((v) => classDefaults(v, classProblems))[0];
  // An Ingress's spec.defaultBackend (the oldest) wins over the class-level default backend.
  const defaultRoute: DefaultRoute | undefined = defaults[0]
    ? { backend: defaults[0].backend, source: defaults[0].ref }
    : fromClass ? { backend: fromClass.backend, source: { cluster: fromClass.cluster, ingressClass: fromClass.ingressClass } } : undefined;

  // Only clusters whose accepted Ingresses route to a service contribute its endpoints.
  const routedFrom = new Map<string, { id: BackendId; clusters: Set<string> }>();
  const routeTo = (id: BackendId, cluster: string): void => {
    const e = routedFrom.get(backendKey(id)) ?? { id, clusters: new Set<string>() };
    e.clusters.add(cluster);
    routedFrom.set(backendKey(id), e);
  };
  for (const r of routes) for (const s of r.sources) routeTo(r.backend, s.cluster);
  if (defaultRoute) routeTo(defaultRoute.backend, defaultRoute.source.cluster);
  const backends = [...routedFrom.entries()].sort(([a], [b]) => byText(a, b)).map(([key, { id, clusters }]) => {
    const policy = policyOf.get(key);
    return buildBackend(id, policy?.failover ?? { kind: 'zone' }, policy?.health ?? DEFAULT_HEALTH, views.filter((v) => clusters.has(v.name)), opts.expired, opts.endpointPolicy);
  });
  return { routes, defaultRoute, backends, conflicts, ingresses, classProblems };
}
