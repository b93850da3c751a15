import { ANNOTATIONS, CONTROLLER, hostProblem, pathProblem, type BackendRef, type IngressRecord, type ServiceRecord } from '@ingressfed/schemas';
import {
  backendKey, ingressKey,
  type Backend, type BackendId, type ClusterSnapshot, type Conflict, type DefaultRoute, type Endpoint, type FailoverPolicy,
  type FederatedModel, type HealthCheck, type IngressRef, type IngressState, type PathType, type Route,
} from './types.js';

// Records of every cluster → one federated model. Pure and deterministic: the same snapshots in any
// order give the same model.

const FAILOVER_ANNOTATION = ANNOTATIONS.failover;
const CLASS_DEFAULT_BACKEND = ANNOTATIONS.classDefaultBackend;
const HEALTH_PATH_ANNOTATION = ANNOTATIONS.healthCheckPath;
const HEALTH_INTERVAL_ANNOTATION = ANNOTATIONS.healthCheckInterval;
const KNOWN_ANNOTATIONS = new Set<string>([FAILOVER_ANNOTATION, HEALTH_PATH_ANNOTATION, HEALTH_INTERVAL_ANNOTATION]);
export const DEFAULT_HEALTH: HealthCheck = { path: undefined, intervalMs: 1000 };

/** `ingressfed.io/health-check-path` and `-interval` (e.g. `500ms`, `2s`; 100 ms to 60 s). */
export function parseHealth(a: Record<string, string>): HealthCheck | string {
  const path = a[HEALTH_PATH_ANNOTATION];
  if (path !== undefined) {
    const p = pathProblem(path);
    if (p) return `annotation ${HEALTH_PATH_ANNOTATION}: ${JSON.stringify(path.slice(0, 80))} ${p}`;
  }
  const iv = a[HEALTH_INTERVAL_ANNOTATION];
  let intervalMs = DEFAULT_HEALTH.intervalMs;
  if (iv !== undefined) {
    const m = /^(\d{1,6})(ms|s)$/.exec(iv);
    intervalMs = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
    if (!(intervalMs >= 100 && intervalMs <= 60_000)) return `annotation ${HEALTH_INTERVAL_ANNOTATION}: '${iv.slice(0, 40)}' is not a duration from 100ms to 60s (e.g. 500ms, 2s)`;
  }
  return { path, intervalMs };
}

interface Candidate {
  ref: IngressRef;
  createdAt: string;
  host: string;
  path: string;
  pathType: PathType;
  backend: BackendId;
}

/** Older first; ties by cluster, then namespace/name (DESIGN §4). */
function olderFirst(a: { ref: IngressRef; createdAt: string }, b: { ref: IngressRef; createdAt: string }): number {
  return a.createdAt.localeCompare(b.createdAt) || a.ref.cluster.localeCompare(b.ref.cluster) ||
    a.ref.namespace.localeCompare(b.ref.namespace) || a.ref.name.localeCompare(b.ref.name);
}

export function parseFailover(value: string | undefined): FailoverPolicy | string {
  if (value === undefined || value === 'zone') return { kind: 'zone' };
  if (value === 'none') return { kind: 'none' };
  const order = value.split(',').map((s) => s.trim());
  if (order.length > 0 && order.every((c) => /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(c)) && new Set(order).size === order.length) {
    return { kind: 'clusters', order };
  }
  return `annotation ${FAILOVER_ANNOTATION}: '${value.slice(0, 80)}' is not zone, none or a comma-separated list of distinct cluster names`;
}

/**
 * Whether the hub serves this Ingress, judged from the cluster's own IngressClass records: `ignore`
 * when it belongs to another controller, `invalid` when it is ours but cannot be served as written.
 */
function classVerdict(ing: IngressRecord, snap: ClusterSnapshot): { ignore?: string; invalid?: string } {
  const classes = snap.ingressClasses;
  const wanted = ing.spec.className;
  if (wanted !== null) {
    const c = classes.find((x) => x.name === wanted);
    if (!c) return { ignore: `ingress class '${wanted.slice(0, 63)}' does not exist in cluster ${snap.name}` };
    return c.spec.controller === CONTROLLER ? {} : { ignore: `ingress class '${wanted}' belongs to controller ${c.spec.controller.slice(0, 100)}` };
  }
  const defaults = classes.filter((c) => c.spec.isDefault);
  if (!defaults.some((c) => c.spec.controller === CONTROLLER)) return { ignore: 'no ingress class given and the default class is not ingressfed' };
  if (defaults.length > 1) {
    return { invalid: `spec.ingressClassName: not set, and cluster ${snap.name} has ${defaults.length} default IngressClasses (${defaults.map((d) => d.name).sort().join(', ')}); Kubernetes refuses such Ingresses: set spec.ingressClassName` };
  }
  return {};
}

/** The class-level default backends, in a deterministic order (cluster, then class name). */
function classDefaults(snaps: ClusterSnapshot[], problems: Map<string, string>): Array<{ cluster: string; ingressClass: string; backend: BackendId }> {
  const out: Array<{ cluster: string; ingressClass: string; backend: BackendId }> = [];
  for (const snap of snaps) {
    for (const c of [...snap.ingressClasses].sort((a, b) => a.name.localeCompare(b.name))) {
      const v = c.spec.annotations?.[CLASS_DEFAULT_BACKEND];
      if (c.spec.controller !== CONTROLLER || v === undefined) continue;
      const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):(\d{1,5})$/.exec(v);
      const port = Number(m?.[5]);
      if (!m || port < 1 || port > 65535) {
        problems.set(`${snap.name}/${c.name}`, `annotation ${CLASS_DEFAULT_BACKEND}: '${v.slice(0, 80)}' is not namespace/service:port`);
        continue;
      }
      out.push({ cluster: snap.name, ingressClass: c.name, backend: { namespace: m[1] as string, service: m[3] as string, port } });
    }
  }
  return out;
}

/** Resolves a backend reference to the service port number, using the cluster's Service record. */
function resolveBackend(ref: BackendRef, namespace: string, services: ServiceRecord[]): { id?: BackendId; problem?: string } {
  if (!('service' in ref)) return { problem: 'resource backends are not supported; use a service backend' };
  const { name, port } = ref.service;
  if ('number' in port) return { id: { namespace, service: name, port: port.number } };
  const svc = services.find((s) => s.namespace === namespace && s.name === name);
  const p = svc?.spec.ports.find((x) => x.name === port.name);
  if (!p) return { problem: `service ${namespace}/${name} has no port named '${port.name}'` };
  return { id: { namespace, service: name, port: p.port } };
}

/** Validates one Ingress and lists its routes; every problem is reported with the field it is in. */
function examineIngress(ing: IngressRecord, snap: ClusterSnapshot): { problems: string[]; candidates: Candidate[]; defaultBackend?: BackendId; failover: FailoverPolicy; health: HealthCheck } {
  const problems: string[] = [];
  const ref: IngressRef = { cluster: snap.name, namespace: ing.namespace, name: ing.name };
  for (const k of Object.keys(ing.spec.annotations)) {
    if (!KNOWN_ANNOTATIONS.has(k)) problems.push(`metadata.annotations: unsupported annotation '${k}'`);
  }
  const failover = parseFailover(ing.spec.annotations[FAILOVER_ANNOTATION]);
  if (typeof failover === 'string') problems.push(`metadata.annotations: ${failover}`);
  const health = parseHealth(ing.spec.annotations);
  if (typeof health === 'string') problems.push(`metadata.annotations: ${health}`);
  const candidates: Candidate[] = [];
  let defaultBackend: BackendId | undefined;
  if (ing.spec.defaultBackend) {
    const r = resolveBackend(ing.spec.defaultBackend, ing.namespace, snap.services);
    if (r.problem) problems.push(`spec.defaultBackend: ${r.problem}`);
    defaultBackend = r.id;
  }
  ing.spec.rules.forEach((rule, i) => {
    if (rule.host !== '') {
      const hp = hostProblem(rule.host);
      if (hp) problems.push(`spec.rules[${i}].host: ${JSON.stringify(rule.host.slice(0, 80))} ${hp}`);
    }
    rule.paths.forEach((p, j) => {
      const where = `spec.rules[${i}].http.paths[${j}]`;
      const pp = pathProblem(p.path);
      if (pp) problems.push(`${where}.path: ${JSON.stringify(p.path.slice(0, 80))} ${pp}`);
      const r = resolveBackend(p.backend, ing.namespace, snap.services);
      if (r.problem) problems.push(`${where}.backend: ${r.problem}`);
      if (!pp && r.id) {
        const pathType: PathType = p.pathType === 'Exact' ? 'Exact' : 'Prefix';
        const path = pathType === 'Prefix' && p.path.length > 1 ? p.path.replace(/\/+$/, '') : p.path;
        candidates.push({ ref, createdAt: ing.source.creationTimestamp, host: rule.host, path, pathType, backend: r.id });
      }
    });
  });
  return { problems, candidates, defaultBackend, failover: typeof failover === 'string' ? { kind: 'zone' } : failover, health: typeof health === 'string' ? DEFAULT_HEALTH : health };
}

/** Endpoints of a backend in one cluster: EndpointSlice ports are matched to the Service port by name. */
function clusterEndpoints(snap: ClusterSnapshot, id: BackendId): Endpoint[] | undefined {
  const svc = snap.services.find((s) => s.namespace === id.namespace && s.name === id.service);
  const eps = snap.endpoints.find((e) => e.namespace === id.namespace && e.name === id.service);
  if (!svc || !eps) return undefined;
  const sp = svc.spec.ports.find((p) => p.port === id.port);
  if (!sp) return [];
  const zone = snap.info?.zone ?? null;
  const out: Endpoint[] = [];
  for (const e of eps.spec.endpoints) {
    const port = e.ports.find((p) => p.name === sp.name) ?? (e.ports.length === 1 ? e.ports[0] : undefined);
    if (!port) continue;
    out.push({ cluster: snap.name, zone: e.zone ?? zone, address: e.address, port: port.port, ready: e.ready, terminating: e.terminating });
  }
  return out;
}

export interface MergeOptions {
  /** Clusters silent past expireAfter: their endpoints leave every backend. */
  expired?: ReadonlySet<string>;
}

export function mergeClusters(snapshots: ClusterSnapshot[], opts: MergeOptions = {}): FederatedModel {
  const snaps = [...snapshots].sort((a, b) => a.name.localeCompare(b.name));
  const ingresses = new Map<string, IngressState>();
  const candidates: Candidate[] = [];
  const defaults: Array<{ ref: IngressRef; createdAt: string; backend: BackendId }> = [];
  const failoverOf = new Map<string, FailoverPolicy>();
  const healthOf = new Map<string, HealthCheck>();

  for (const snap of snaps) {
    for (const ing of snap.ingresses) {
      const key = ingressKey({ cluster: snap.name, namespace: ing.namespace, name: ing.name });
      const verdict = classVerdict(ing, snap);
      if (verdict.ignore) {
        ingresses.set(key, { state: 'ignored', reasons: [verdict.ignore] });
        continue;
      }
      const ex = examineIngress(ing, snap);
      if (verdict.invalid) ex.problems.unshift(verdict.invalid);
      if (ex.problems.length > 0) {
        ingresses.set(key, { state: 'invalid', reasons: ex.problems });
        continue;
      }
      ingresses.set(key, { state: 'accepted' });
      candidates.push(...ex.candidates);
      if (ex.defaultBackend) defaults.push({ ref: { cluster: snap.name, namespace: ing.namespace, name: ing.name }, createdAt: ing.source.creationTimestamp, backend: ex.defaultBackend });
      // A backend's policies come from the first accepted Ingress (by cluster, then as listed) naming it.
      for (const id of [...ex.candidates.map((c) => c.backend), ...(ex.defaultBackend ? [ex.defaultBackend] : [])]) {
        if (!failoverOf.has(backendKey(id))) failoverOf.set(backendKey(id), ex.failover);
        if (!healthOf.has(backendKey(id))) healthOf.set(backendKey(id), ex.health);
      }
    }
  }

  // Group claims by route; the oldest claim's backend wins, claims with another backend conflict.
  const byRoute = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const k = `${c.host}\u0000${c.path}\u0000${c.pathType}`;
    const list = byRoute.get(k) ?? [];
    list.push(c);
    byRoute.set(k, list);
  }
  const routes: Route[] = [];
  const conflicts: Conflict[] = [];
  for (const list of byRoute.values()) {
    list.sort(olderFirst);
    const winner = list[0] as Candidate;
    const same = list.filter((c) => backendKey(c.backend) === backendKey(winner.backend));
    const losers = list.filter((c) => backendKey(c.backend) !== backendKey(winner.backend));
    const sources = dedupeRefs(same.map((c) => c.ref));
    routes.push({ host: winner.host, path: winner.path, pathType: winner.pathType, backend: winner.backend, sources });
    if (losers.length > 0) {
      conflicts.push({
        host: winner.host, path: winner.path, pathType: winner.pathType,
        winner: { ...winner.ref, backend: winner.backend },
        losers: dedupeRefs(losers.map((l) => l.ref)).map((r) => ({ ...r, backend: (losers.find((l) => ingressKey(l.ref) === ingressKey(r)) as Candidate).backend })),
      });
      for (const l of losers) {
        const key = ingressKey(l.ref);
        const prev = ingresses.get(key);
        const reason = `host '${winner.host}' path '${winner.path}' (${winner.pathType}) is served by ${ingressKey(winner.ref)}, which is older`;
        const reasons = prev && prev.state === 'conflicted' ? [...new Set([...prev.reasons, reason])] : [reason];
        ingresses.set(key, { state: 'conflicted', reasons });
      }
    }
  }
  routes.sort((a, b) => a.host.localeCompare(b.host) || a.path.localeCompare(b.path) || a.pathType.localeCompare(b.pathType));

  defaults.sort(olderFirst);
  const classProblems = new Map<string, string>();
  const fromClass = classDefaults(snaps, classProblems)[0];
  // An Ingress's spec.defaultBackend (the oldest) wins over the class-level default backend.
  const defaultRoute: DefaultRoute | undefined = defaults[0]
    ? { backend: defaults[0].backend, source: defaults[0].ref }
    : fromClass ? { backend: fromClass.backend, source: { cluster: fromClass.cluster, ingressClass: fromClass.ingressClass } } : undefined;

  const wanted = new Map<string, BackendId>();
  for (const r of routes) wanted.set(backendKey(r.backend), r.backend);
  if (defaultRoute) wanted.set(backendKey(defaultRoute.backend), defaultRoute.backend);
  const backends: Backend[] = [...wanted.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, id]) => {
    const endpoints: Endpoint[] = [];
    const clusters: string[] = [];
    const routedFrom = new Set([...routes.filter((r) => backendKey(r.backend) === key).flatMap((r) => r.sources.map((s) => s.cluster)),
      ...(defaultRoute && backendKey(defaultRoute.backend) === key ? [defaultRoute.source.cluster] : [])]);
    for (const snap of snaps) {
      // Only clusters whose accepted Ingresses route to this service contribute endpoints.
      if (!routedFrom.has(snap.name)) continue;
      const eps = opts.expired?.has(snap.name) ? [] : clusterEndpoints(snap, id);
      if (eps === undefined || eps.length === 0) clusters.push(snap.name);
      endpoints.push(...(eps ?? []));
    }
    return { id, failover: failoverOf.get(key) ?? { kind: 'zone' }, health: healthOf.get(key) ?? DEFAULT_HEALTH, endpoints, clusters };
  });

  return { routes, defaultRoute, backends, conflicts, ingresses, classProblems };
}

function dedupeRefs(refs: IngressRef[]): IngressRef[] {
  const seen = new Map<string, IngressRef>();
  for (const r of refs) seen.set(ingressKey(r), r);
  return [...seen.values()];
}
