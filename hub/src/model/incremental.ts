import type { EndpointsRecord, IngressClassRecord, IngressRecord, ObjectRecord, ServiceRecord } from '@ingressfed/schemas';
import {
  DEFAULT_HEALTH, backendsNamed, buildBackend, byText, classDefaults, examineIngress, finalState, olderFirst, refOrder, resolveRoute, routeKey, servicesNamed,
  type Candidate, type ClusterView, type Examined, type ResolvedRoute,
} from './parts.js';
import type { EndpointPolicy } from './endpoint-policy.js';
import type { HostPolicy } from './host-policy.js';
import type { MergeOptions } from './merge.js';
import { SnapshotMap } from './snapshot-map.js';
import { SortedKeys } from './sorted.js';
import { backendKey, ingressKey, type Backend, type BackendId, type DefaultRoute, type FederatedModel, type IngressState } from './types.js';

// The federated model kept up to date one record at a time. Every record change marks what depends
// on it (the Ingress, the routes it claims, the backends they and their Services feed) and only that
// is computed again; unchanged routes and backends keep their identity from one model to the next,
// so later stages can tell what changed by reference. The result always equals mergeClusters over
// the same records (incremental.test.ts checks this on random change sequences).

interface ClusterData {
  view: ClusterView;
  zone: string | null;
  classes: Map<string, IngressClassRecord>;
  classList: IngressClassRecord[];
  services: Map<string, ServiceRecord>;
  endpoints: Map<string, EndpointsRecord>;
  ingresses: Set<string>;
}

type ClassDefault = { cluster: string; ingressClass: string; backend: BackendId } | undefined;

const addTo = <K, V>(m: Map<K, Set<V>>, k: K, v: V): void => {
  const s = m.get(k);
  if (s) s.add(v);
  else m.set(k, new Set([v]));
};
const removeFrom = <K, V>(m: Map<K, Set<V>>, k: K, v: V): void => {
  const s = m.get(k);
  if (s?.delete(v) && s.size === 0) m.delete(k);
};
const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

export class IncrementalMerge {
  private readonly endpointPolicy: EndpointPolicy | undefined;
  private readonly hostPolicy: HostPolicy | undefined;

  constructor(opts: Pick<MergeOptions, 'endpointPolicy' | 'hostPolicy'> = {}) {
    this.endpointPolicy = opts.endpointPolicy;
    this.hostPolicy = opts.hostPolicy;
  }

  /** The records put so far; `records.snapshot()` keeps them as they are when a model is taken. */
  readonly records = new SnapshotMap<ObjectRecord>();
  private readonly clusters = new Map<string, ClusterData>();
  private readonly ingressRecords = new Map<string, IngressRecord>();
  private readonly examined = new Map<string, Examined>();
  /** Route key → claiming Ingress (key) → its claims, in the order it lists them. */
  private readonly claims = new Map<string, Map<string, Candidate[]>>();
  private readonly resolved = new Map<string, ResolvedRoute>();
  /** Ingress key → route key → why it lost that route. */
  private readonly lostIn = new Map<string, Map<string, string>>();
  /** Backend key → accepted Ingresses that name it (its policies come from the first). */
  private readonly namedBy = new Map<string, Set<string>>();
  /** Backend key → routes whose winner routes to it. */
  private readonly routesTo = new Map<string, Set<string>>();
  /** `namespace/service` → backend keys of that Service (any port). */
  private readonly byService = new Map<string, Set<string>>();
  /** `cluster/namespace/service` → Ingresses that name the Service. */
  private readonly serviceUsers = new Map<string, Set<string>>();
  private readonly usesOf = new Map<string, string[]>();
  private readonly withDefault = new Set<string>();
  private readonly backends = new Map<string, Backend>();
  private readonly states = new Map<string, IngressState>();
  private defaultRoute: DefaultRoute | undefined;
  private classDefault: ClassDefault;
  private classProblems = new Map<string, string>();
  private expired: ReadonlySet<string> = new Set();

  private readonly dirtyIngresses = new Set<string>();
  private readonly dirtyRoutes = new Set<string>();
  private readonly dirtyBackends = new Set<string>();
  private readonly dirtyStates = new Set<string>();
  private readonly dirtyClasses = new Set<string>();
  private allBackendsDirty = false;
  private defaultDirty = false;

  private out: FederatedModel | undefined;
  // Route keys (host, path, type joined by NUL, which none of them holds) sort as routes do.
  private readonly sortedRoutes = new SortedKeys(byText);
  private readonly sortedBackends = new SortedKeys(byText);
  private changed = { routes: true, defaultRoute: true, backends: true, conflicts: true, states: true, classes: true };

  /** Sets or (with undefined) removes the record of a state key. */
  put(key: string, record: ObjectRecord | undefined): void {
    const previous = this.records.get(key);
    const r = record ?? previous;
    if (!r || record === previous) return;
    if (record) this.records.set(key, record);
    else this.records.delete(key);
    this.index(r, record);
  }

  /**
   * Recomputes what depends on `key` as if its record had just arrived. Touching every key is the
   * full recompute, in as many slices as the caller likes; with no record changed it must change
   * nothing, so a model that changes is a merge bug found (and repaired).
   */
  touch(key: string): void {
    const r = this.records.get(key);
    if (r) this.index(r, r);
  }

  /** Files record `r` (set to `record`, or removed when undefined) and marks what depends on it. */
  private index(r: ObjectRecord, record: ObjectRecord | undefined): void {
    const c = this.cluster(r.cluster);
    if (r.kind === 'ingressclass') {
      if (record) c.classes.set(r.name, record as IngressClassRecord);
      else c.classes.delete(r.name);
      c.classList = [...c.classes.values()];
      this.dirtyClasses.add(r.cluster);
      return;
    }
    const nsName = `${r.namespace}/${r.name}`;
    if (r.kind === 'ingress') {
      const key = ingressKey({ cluster: r.cluster, namespace: r.namespace, name: r.name });
      if (record) {
        this.ingressRecords.set(key, record as IngressRecord);
        c.ingresses.add(key);
      } else {
        this.ingressRecords.delete(key);
        c.ingresses.delete(key);
      }
      this.dirtyIngresses.add(key);
      return;
    }
    if (r.kind === 'service') {
      if (record) c.services.set(nsName, record as ServiceRecord);
      else c.services.delete(nsName);
      for (const k of this.serviceUsers.get(`${r.cluster}/${nsName}`) ?? []) this.dirtyIngresses.add(k);
    } else {
      if (record) c.endpoints.set(nsName, record as EndpointsRecord);
      else c.endpoints.delete(nsName);
    }
    for (const bk of this.byService.get(nsName) ?? []) this.dirtyBackends.add(bk);
  }

  /** The zone a cluster reports (endpoints without their own zone are in it). */
  setZone(cluster: string, zone: string | null): void {
    const c = this.cluster(cluster);
    if (c.zone === zone) return;
    c.zone = zone;
    this.allBackendsDirty = true;
  }

  /** Clusters silent past expireAfter: their endpoints leave every backend. */
  setExpired(expired: ReadonlySet<string>): void {
    if (expired.size === this.expired.size && [...expired].every((c) => this.expired.has(c))) return;
    this.expired = new Set(expired);
    this.allBackendsDirty = true;
  }

  /** The model for the records put so far; the same object as last time when nothing changed. */
  model(): FederatedModel {
    this.settle();
    return this.out && !Object.values(this.changed).some(Boolean) ? this.out : this.assemble();
  }

  /**
   * Works out what the records put since the last call change (Ingresses, routes, backends, states),
   * without assembling a model: a burst is settled a few records at a time, and the model assembled
   * once at its end.
   */
  settle(): void {
    this.flushClasses();
    for (const k of this.dirtyIngresses) this.reexamine(k);
    this.dirtyIngresses.clear();
    for (const rk of this.dirtyRoutes) this.resolve(rk);
    this.dirtyRoutes.clear();
    if (this.defaultDirty) this.chooseDefault();
    const backends = this.allBackendsDirty ? new Set([...this.backends.keys(), ...this.dirtyBackends]) : this.dirtyBackends;
    for (const bk of backends) this.rebuildBackend(bk);
    this.dirtyBackends.clear();
    this.allBackendsDirty = false;
    for (const k of this.dirtyStates) this.restate(k);
    this.dirtyStates.clear();
  }

  private cluster(name: string): ClusterData {
    let c = this.clusters.get(name);
    if (c) return c;
    const data: ClusterData = {
      zone: null, classes: new Map(), classList: [], services: new Map(), endpoints: new Map(), ingresses: new Set(),
      view: {
        name,
        get zone() { return data.zone; },
        get classes() { return data.classList; },
        service: (ns, n) => data.services.get(`${ns}/${n}`),
        endpoints: (ns, n) => data.endpoints.get(`${ns}/${n}`),
      },
    };
    c = data;
    this.clusters.set(name, c);
    return c;
  }

  /** IngressClasses changed: the cluster's Ingresses are judged again, class defaults recomputed. */
  private flushClasses(): void {
    if (this.dirtyClasses.size === 0) return;
    for (const name of this.dirtyClasses) for (const k of this.clusters.get(name)?.ingresses ?? []) this.dirtyIngresses.add(k);
    this.dirtyClasses.clear();
    const problems = new Map<string, string>();
    const names = [...this.clusters.keys()].sort(byText);
    const first = names.flatMap((n) => classDefaults((this.clusters.get(n) as ClusterData).view, problems))[0];
    if (JSON.stringify([...problems]) !== JSON.stringify([...this.classProblems])) {
      this.classProblems = problems;
      this.changed.classes = true;
    }
    if (!same(first, this.classDefault)) {
      this.classDefault = first;
      this.defaultDirty = true;
    }
  }

  private reexamine(key: string): void {
    const old = this.examined.get(key);
    if (old?.state.state === 'accepted') this.withdraw(key, old);
    for (const u of this.usesOf.get(key) ?? []) removeFrom(this.serviceUsers, u, key);
    this.usesOf.delete(key);
    const rec = this.ingressRecords.get(key);
    this.dirtyStates.add(key);
    if (!rec) {
      this.examined.delete(key);
      return;
    }
    const ex = examineIngress(rec, this.cluster(rec.cluster).view, this.hostPolicy);
    this.examined.set(key, ex);
    const uses = servicesNamed(rec).map((s) => `${rec.cluster}/${rec.namespace}/${s}`);
    for (const u of uses) addTo(this.serviceUsers, u, key);
    this.usesOf.set(key, uses);
    if (ex.state.state === 'accepted') this.contribute(key, ex);
  }

  private withdraw(key: string, ex: Examined): void {
    for (const c of ex.candidates) {
      const rk = routeKey(c);
      const m = this.claims.get(rk);
      if (m?.delete(key) && m.size === 0) this.claims.delete(rk);
      this.dirtyRoutes.add(rk);
    }
    for (const id of backendsNamed(ex)) {
      removeFrom(this.namedBy, backendKey(id), key);
      this.dirtyBackends.add(backendKey(id));
    }
    if (this.withDefault.delete(key)) this.defaultDirty = true;
  }

  private contribute(key: string, ex: Examined): void {
    for (const c of ex.candidates) {
      const rk = routeKey(c);
      let m = this.claims.get(rk);
      if (!m) this.claims.set(rk, (m = new Map()));
      const list = m.get(key);
      if (list) list.push(c);
      else m.set(key, [c]);
      this.dirtyRoutes.add(rk);
    }
    for (const id of backendsNamed(ex)) {
      addTo(this.namedBy, backendKey(id), key);
      this.dirtyBackends.add(backendKey(id));
    }
    if (ex.defaultBackend) {
      this.withDefault.add(key);
      this.defaultDirty = true;
    }
  }

  private resolve(rk: string): void {
    const old = this.resolved.get(rk);
    const m = this.claims.get(rk);
    let next: ResolvedRoute | undefined;
    if (m) {
      const claimants = [...m.keys()].map((k) => this.examined.get(k) as Examined).sort(olderFirst);
      next = resolveRoute(claimants.flatMap((ex) => m.get(ingressKey(ex.ref)) as Candidate[]));
    }
    if (old && next && same(old.route, next.route) && same(old.conflict, next.conflict)) return;
    if (!old && next) this.sortedRoutes.add(rk);
    if (old && !next) this.sortedRoutes.delete(rk);
    if (next) this.resolved.set(rk, next);
    else this.resolved.delete(rk);
    this.changed.routes = true;
    if (old?.conflict || next?.conflict) this.changed.conflicts = true;
    if (old) {
      removeFrom(this.routesTo, backendKey(old.route.backend), rk);
      this.dirtyBackends.add(backendKey(old.route.backend));
      for (const k of old.losers.keys()) {
        const l = this.lostIn.get(k);
        if (l?.delete(rk) && l.size === 0) this.lostIn.delete(k);
        this.dirtyStates.add(k);
      }
    }
    if (next) {
      addTo(this.routesTo, backendKey(next.route.backend), rk);
      this.dirtyBackends.add(backendKey(next.route.backend));
      for (const [k, why] of next.losers) {
        let l = this.lostIn.get(k);
        if (!l) this.lostIn.set(k, (l = new Map()));
        l.set(rk, why);
        this.dirtyStates.add(k);
      }
    }
  }

  /** The oldest Ingress spec.defaultBackend, else the first class-level default backend. */
  private chooseDefault(): void {
    this.defaultDirty = false;
    const oldest = [...this.withDefault].map((k) => this.examined.get(k) as Examined).sort(olderFirst)[0];
    const cd = this.classDefault;
    const next: DefaultRoute | undefined = oldest?.defaultBackend
      ? { backend: oldest.defaultBackend, source: oldest.ref }
      : cd ? { backend: cd.backend, source: { cluster: cd.cluster, ingressClass: cd.ingressClass } } : undefined;
    if (same(next, this.defaultRoute)) return;
    for (const d of [this.defaultRoute, next]) if (d) this.dirtyBackends.add(backendKey(d.backend));
    this.defaultRoute = next;
    this.changed.defaultRoute = true;
  }

  private rebuildBackend(bk: string): void {
    const routeKeys = this.routesTo.get(bk);
    const viaDefault = this.defaultRoute && backendKey(this.defaultRoute.backend) === bk ? this.defaultRoute : undefined;
    const old = this.backends.get(bk);
    if (!routeKeys?.size && !viaDefault) {
      if (old) {
        this.backends.delete(bk);
        removeFrom(this.byService, `${old.id.namespace}/${old.id.service}`, bk);
        this.sortedBackends.delete(bk);
        this.changed.backends = true;
      }
      return;
    }
    const clusters = new Set<string>(viaDefault ? [viaDefault.source.cluster] : []);
    let id = viaDefault?.backend;
    for (const rk of routeKeys ?? []) {
      const r = (this.resolved.get(rk) as ResolvedRoute).route;
      id = r.backend;
      for (const s of r.sources) clusters.add(s.cluster);
    }
    const policyFrom = [...(this.namedBy.get(bk) ?? [])].map((k) => this.examined.get(k) as Examined).sort((a, b) => refOrder(a.ref, b.ref))[0];
    const views = [...clusters].sort(byText).map((c) => this.cluster(c).view);
    const next = buildBackend(id as BackendId, policyFrom?.failover ?? { kind: 'zone' }, policyFrom?.health ?? DEFAULT_HEALTH, views, this.expired, this.endpointPolicy);
    if (old && same(old, next)) return;
    if (!old) {
      addTo(this.byService, `${next.id.namespace}/${next.id.service}`, bk);
      this.sortedBackends.add(bk);
    }
    this.backends.set(bk, next);
    this.changed.backends = true;
  }

  private restate(key: string): void {
    const ex = this.examined.get(key);
    const old = this.states.get(key);
    if (!ex) {
      if (this.states.delete(key)) this.changed.states = true;
      return;
    }
    const next = finalState(ex.state, this.lostIn.get(key)?.values() ?? []);
    if (old && same(old, next)) return;
    this.states.set(key, next);
    this.changed.states = true;
  }

  /** A new model object; parts that did not change are the previous model's own. */
  private assemble(): FederatedModel {
    const prev = this.out;
    const ch = this.changed;
    const routes = prev && !ch.routes ? prev.routes : this.sortedRoutes.keys.map((rk) => this.routeOf(rk));
    const conflicts = prev && !ch.conflicts ? prev.conflicts
      : this.sortedRoutes.keys.flatMap((rk) => (this.resolved.get(rk) as ResolvedRoute).conflict ?? []);
    const backends = prev && !ch.backends ? prev.backends : this.sortedBackends.keys.map((bk) => this.backends.get(bk) as Backend);
    const ingresses = prev && !ch.states ? prev.ingresses : new Map(this.states);
    const classProblems = prev && !ch.classes ? prev.classProblems : new Map(this.classProblems);
    this.changed = { routes: false, defaultRoute: false, backends: false, conflicts: false, states: false, classes: false };
    this.out = { routes, defaultRoute: this.defaultRoute, backends, conflicts, ingresses, classProblems };
    return this.out;
  }

  private routeOf(rk: string): ResolvedRoute['route'] {
    return (this.resolved.get(rk) as ResolvedRoute).route;
  }
}
