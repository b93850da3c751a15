import type { HostPolicy } from './host-policy.js';
import { ANNOTATIONS, CONTROLLER, hostProblem, isDnsLabel, pathProblem, type BackendRef, type EndpointsRecord, type IngressClassRecord, type IngressRecord, type ServiceRecord } from '@ingressfed/schemas';
import {
  backendKey, ingressKey,
  type Backend, type BackendId, type Conflict, type Endpoint, type FailoverPolicy, type HealthCheck, type IngressRef, type IngressState, type PathType, type RefusedEndpoint, type Route,
} from './types.js';
import type { EndpointPolicy } from './endpoint-policy.js';

// The pure pieces the merge is made of, shared by the full merge (merge.ts) and the incremental one
// (incremental.ts): what one Ingress declares, what one cluster contributes to one backend, and who
// wins one route.

const FAILOVER_ANNOTATION = ANNOTATIONS.failover;
const CLASS_DEFAULT_BACKEND = ANNOTATIONS.classDefaultBackend;
const HEALTH_PATH_ANNOTATION = ANNOTATIONS.healthCheckPath;
const HEALTH_INTERVAL_ANNOTATION = ANNOTATIONS.healthCheckInterval;
const KNOWN_ANNOTATIONS = new Set<string>([FAILOVER_ANNOTATION, HEALTH_PATH_ANNOTATION, HEALTH_INTERVAL_ANNOTATION, ANNOTATIONS.sslRedirect]);
export const DEFAULT_HEALTH: HealthCheck = { path: undefined, intervalMs: 1000 };

/** Code-unit order: deterministic, and much cheaper than localeCompare at ten thousand routes. */
export const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** What the merge reads of one cluster, indexed. */
export interface ClusterView {
  name: string;
  zone: string | null;
  classes: readonly IngressClassRecord[];
  service(namespace: string, name: string): ServiceRecord | undefined;
  endpoints(namespace: string, name: string): EndpointsRecord | undefined;
}

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

export function parseFailover(value: string | undefined): FailoverPolicy | string {
  if (value === undefined || value === 'zone') return { kind: 'zone' };
  if (value === 'none') return { kind: 'none' };
  const order = value.split(',').map((s) => s.trim());
  if (order.length > 0 && order.every(isDnsLabel) && new Set(order).size === order.length) {
    return { kind: 'clusters', order };
  }
  return `annotation ${FAILOVER_ANNOTATION}: '${value.slice(0, 80)}' is not zone, none or a comma-separated list of distinct cluster names`;
}

export interface Candidate {
  ref: IngressRef;
  createdAt: string;
  host: string;
  path: string;
  pathType: PathType;
  backend: BackendId;
}

export const routeKey = (c: { host: string; path: string; pathType: string }): string => `${c.host}\u0000${c.path}\u0000${c.pathType}`;

/** Ingresses in tie-break order: cluster, namespace, name. */
export function refOrder(a: IngressRef, b: IngressRef): number {
  return byText(a.cluster, b.cluster) || byText(a.namespace, b.namespace) || byText(a.name, b.name);
}

/** Older first; ties by cluster, then namespace/name (DESIGN §4). */
export function olderFirst(a: { ref: IngressRef; createdAt: string }, b: { ref: IngressRef; createdAt: string }): number {
  return byText(a.createdAt, b.createdAt) || refOrder(a.ref, b.ref);
}

/** Routes in model order: host, path, path type. */
export function routeSort(a: { host: string; path: string; pathType: string }, b: { host: string; path: string; pathType: string }): number {
  return byText(a.host, b.host) || byText(a.path, b.path) || byText(a.pathType, b.pathType);
}

/** What the hub makes of one Ingress on its own (before conflicts with other Ingresses). */
export interface Examined {
  ref: IngressRef;
  createdAt: string;
  /** accepted, invalid or ignored. */
  state: IngressState;
  candidates: Candidate[];
  defaultBackend: BackendId | undefined;
  failover: FailoverPolicy;
  health: HealthCheck;
}

/**
 * Whether the hub serves this Ingress, judged from the cluster's own IngressClass records: `ignore`
 * when it belongs to another controller, `invalid` when it is ours but cannot be served as written.
 */
function classVerdict(ing: IngressRecord, view: ClusterView): { ignore?: string; invalid?: string } {
  const classes = view.classes;
  const wanted = ing.spec.className;
  if (wanted !== null) {
    const c = classes.find((x) => x.name === wanted);
    if (!c) return { ignore: `ingress class '${wanted.slice(0, 63)}' does not exist in cluster ${view.name}` };
    return c.spec.controller === CONTROLLER ? {} : { ignore: `ingress class '${wanted}' belongs to controller ${c.spec.controller.slice(0, 100)}` };
  }
  const defaults = classes.filter((c) => c.spec.isDefault);
  if (!defaults.some((c) => c.spec.controller === CONTROLLER)) return { ignore: 'no ingress class given and the default class is not ingressfed' };
  if (defaults.length > 1) {
    return { invalid: `spec.ingressClassName: not set, and cluster ${view.name} has ${defaults.length} default IngressClasses (${defaults.map((d) => d.name).sort().join(', ')}); Kubernetes refuses such Ingresses: set spec.ingressClassName` };
  }
  return {};
}

/** Resolves a backend reference to the service port number, using the cluster's Service record. */
function resolveBackend(ref: BackendRef, namespace: string, view: ClusterView): { id?: BackendId; problem?: string } {
  if (!('service' in ref)) return { problem: 'resource backends are not supported; use a service backend' };
  const { name, port } = ref.service;
  if ('number' in port) return { id: { namespace, service: name, port: port.number } };
  const p = view.service(namespace, name)?.spec.ports.find((x) => x.name === port.name);
  if (!p) return { problem: `service ${namespace}/${name} has no port named '${port.name}'` };
  return { id: { namespace, service: name, port: p.port } };
}

/** The Services an Ingress names (its named ports depend on them). */
export function servicesNamed(ing: IngressRecord): string[] {
  const refs = [ing.spec.defaultBackend, ...ing.spec.rules.flatMap((r) => r.paths.map((p) => p.backend))];
  return [...new Set(refs.flatMap((b) => (b !== null && 'service' in b ? [b.service.name] : [])))];
}

/**
 * Validates one Ingress and lists its routes; every problem is reported with the field it is in. A
 * host (or, for rules without one and default backends, every host) the host policy keeps for others
 * makes the Ingress invalid, so it never competes for the route.
 */
export function examineIngress(ing: IngressRecord, view: ClusterView, hosts?: HostPolicy): Examined {
  const ref: IngressRef = { cluster: view.name, namespace: ing.namespace, name: ing.name };
  const createdAt = ing.source.creationTimestamp;
  const base = { ref, createdAt, candidates: [] as Candidate[], defaultBackend: undefined, failover: { kind: 'zone' } as FailoverPolicy, health: DEFAULT_HEALTH };
  const verdict = classVerdict(ing, view);
  if (verdict.ignore) return { ...base, state: { state: 'ignored', reasons: [verdict.ignore] } };
  const problems: string[] = verdict.invalid ? [verdict.invalid] : [];
  for (const k of Object.keys(ing.spec.annotations)) {
    if (!KNOWN_ANNOTATIONS.has(k)) problems.push(`metadata.annotations: unsupported annotation '${k}'`);
  }
  const redirect = ing.spec.annotations[ANNOTATIONS.sslRedirect];
  if (redirect !== undefined && redirect !== 'true' && redirect !== 'false') problems.push(`metadata.annotations: ${ANNOTATIONS.sslRedirect} must be "true" or "false"`);
  const failover = parseFailover(ing.spec.annotations[FAILOVER_ANNOTATION]);
  if (typeof failover === 'string') problems.push(`metadata.annotations: ${failover}`);
  const health = parseHealth(ing.spec.annotations);
  if (typeof health === 'string') problems.push(`metadata.annotations: ${health}`);
  const candidates: Candidate[] = [];
  let defaultBackend: BackendId | undefined;
  const notOurs = (host: string): string | undefined => hosts?.problem(host, view.name, ing.namespace);
  if (ing.spec.defaultBackend) {
    const r = resolveBackend(ing.spec.defaultBackend, ing.namespace, view);
    if (r.problem) problems.push(`spec.defaultBackend: ${r.problem}`);
    const policy = notOurs('');
    if (policy) problems.push(`spec.defaultBackend: ${policy}`);
    defaultBackend = r.id;
  }
  ing.spec.rules.forEach((rule, i) => {
    const hp = rule.host === '' ? undefined : hostProblem(rule.host);
    if (hp) problems.push(`spec.rules[${i}].host: ${JSON.stringify(rule.host.slice(0, 80))} ${hp}`);
    const policy = hp ? undefined : notOurs(rule.host);
    if (policy) problems.push(`spec.rules[${i}]${rule.host === '' ? '' : '.host'}: ${policy}`);
    rule.paths.forEach((p, j) => {
      const where = `spec.rules[${i}].http.paths[${j}]`;
      const pp = pathProblem(p.path);
      if (pp) problems.push(`${where}.path: ${JSON.stringify(p.path.slice(0, 80))} ${pp}`);
      const r = resolveBackend(p.backend, ing.namespace, view);
      if (r.problem) problems.push(`${where}.backend: ${r.problem}`);
      if (!pp && r.id) {
        const pathType: PathType = p.pathType === 'Exact' ? 'Exact' : 'Prefix';
        const path = pathType === 'Prefix' && p.path.length > 1 ? p.path.replace(/\/+$/, '') : p.path;
        candidates.push({ ref, createdAt, host: rule.host, path, pathType, backend: r.id });
      }
    });
  });
  if (problems.length > 0) return { ...base, state: { state: 'invalid', reasons: problems } };
  return {
    ref, createdAt, state: { state: 'accepted' }, candidates, defaultBackend,
    failover: typeof failover === 'string' ? { kind: 'zone' } : failover, health: typeof health === 'string' ? DEFAULT_HEALTH : health,
  };
}

/** The backends an accepted Ingress names, in the order it names them. */
export function backendsNamed(ex: Examined): BackendId[] {
  return [...ex.candidates.map((c) => c.backend), ...(ex.defaultBackend ? [ex.defaultBackend] : [])];
}

/** The class-level default backends of one cluster, by class name; problems by `cluster/class`. */
export function classDefaults(view: ClusterView, problems: Map<string, string>): Array<{ cluster: string; ingressClass: string; backend: BackendId }> {
  const out: Array<{ cluster: string; ingressClass: string; backend: BackendId }> = [];
  for (const c of [...view.classes].sort((a, b) => byText(a.name, b.name))) {
    const v = c.spec.annotations?.[CLASS_DEFAULT_BACKEND];
    if (c.spec.controller !== CONTROLLER || v === undefined) continue;
    const m = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):(\d{1,5})$/.exec(v);
    const port = Number(m?.[5]);
    if (!m || port < 1 || port > 65535) {
      problems.set(`${view.name}/${c.name}`, `annotation ${CLASS_DEFAULT_BACKEND}: '${v.slice(0, 80)}' is not namespace/service:port`);
      continue;
    }
    out.push({ cluster: view.name, ingressClass: c.name, backend: { namespace: m[1] as string, service: m[3] as string, port } });
  }
  return out;
}

/** Endpoints of a backend in one cluster: EndpointSlice ports are matched to the Service port by name. */
export function clusterEndpoints(view: ClusterView, id: BackendId): Endpoint[] | undefined {
  const svc = view.service(id.namespace, id.service);
  const eps = view.endpoints(id.namespace, id.service);
  if (!svc || !eps) return undefined;
  const sp = svc.spec.ports.find((p) => p.port === id.port);
  if (!sp) return [];
  const out: Endpoint[] = [];
  for (const e of eps.spec.endpoints) {
    const port = e.ports.find((p) => p.name === sp.name) ?? (e.ports.length === 1 ? e.ports[0] : undefined);
    if (!port) continue;
    out.push({ cluster: view.name, zone: e.zone ?? view.zone, address: e.address, port: port.port, ready: e.ready, terminating: e.terminating });
  }
  return out;
}

/** One backend from the clusters (in name order) that route to it. */
export function buildBackend(id: BackendId, failover: FailoverPolicy, health: HealthCheck, from: ClusterView[], expired: ReadonlySet<string> | undefined,
  policy?: EndpointPolicy): Backend {
  const endpoints: Endpoint[] = [];
  const clusters: string[] = [];
  const refused: RefusedEndpoint[] = [];
  for (const view of from) {
    const eps = expired?.has(view.name) ? [] : clusterEndpoints(view, id);
    if (eps === undefined || eps.length === 0) clusters.push(view.name);
    for (const e of eps ?? []) {
      const reason = policy?.problem(e.cluster, e.address);
      if (reason === undefined) endpoints.push(e);
      else refused.push({ cluster: e.cluster, address: e.address, port: e.port, reason });
    }
  }
  return refused.length > 0 ? { id, failover, health, endpoints, clusters, refused } : { id, failover, health, endpoints, clusters };
}

/** One route's claims resolved: the oldest claim's backend wins; claims with another backend lose. */
export interface ResolvedRoute {
  route: Route;
  conflict: Conflict | undefined;
  /** Per losing Ingress (key), why it lost. */
  losers: Map<string, string>;
}

/** `claims` must be in olderFirst order (ties in the order each Ingress lists them). */
export function resolveRoute(claims: Candidate[]): ResolvedRoute {
  const winner = claims[0] as Candidate;
  const wk = backendKey(winner.backend);
  const same = claims.filter((c) => backendKey(c.backend) === wk);
  const lost = claims.filter((c) => backendKey(c.backend) !== wk);
  const route: Route = { host: winner.host, path: winner.path, pathType: winner.pathType, backend: winner.backend, sources: dedupeRefs(same.map((c) => c.ref)) };
  const losers = new Map<string, string>();
  if (lost.length === 0) return { route, conflict: undefined, losers };
  const reason = `host '${winner.host}' path '${winner.path}' (${winner.pathType}) is served by ${ingressKey(winner.ref)}, which is older`;
  for (const l of lost) losers.set(ingressKey(l.ref), reason);
  const conflict: Conflict = {
    host: winner.host, path: winner.path, pathType: winner.pathType,
    winner: { ...winner.ref, backend: winner.backend },
    losers: dedupeRefs(lost.map((l) => l.ref)).map((r) => ({ ...r, backend: (lost.find((l) => ingressKey(l.ref) === ingressKey(r)) as Candidate).backend })),
  };
  return { route, conflict, losers };
}

function dedupeRefs(refs: IngressRef[]): IngressRef[] {
  const seen = new Map<string, IngressRef>();
  for (const r of refs) if (!seen.has(ingressKey(r))) seen.set(ingressKey(r), r);
  return [...seen.values()];
}

/** An Ingress's final state: a conflict loser is Conflicted, with every reason, sorted. */
export function finalState(base: IngressState, lostBecause: Iterable<string>): IngressState {
  if (base.state !== 'accepted') return base;
  const reasons = [...new Set(lostBecause)].sort(byText);
  return reasons.length > 0 ? { state: 'conflicted', reasons } : base;
}
