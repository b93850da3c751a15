import { EventEmitter } from 'node:events';
import type { NatsConnection } from '@nats-io/transport-node';
import { STATE_BUCKET, STATUS_BUCKET } from '@ingressfed/schemas';
import { connectNats, openBucket } from '@ingressfed/schemas/nats';
import { EdgeApplier, type ApplyOutcome, type EdgeConfig } from './apply/edge.js';
import { StateIntake } from './intake.js';
import { HubMetrics } from './metrics.js';
import { mergeClusters } from './model/merge.js';
import { backendKey, type Endpoint, type FederatedModel } from './model/types.js';
import { StatusWriter, computeStatuses } from './status/status.js';
import { LeaderLease, type LeaseState } from './store/lease.js';
import { RedisStore, type Drain } from './store/redis-store.js';

export type ClusterState = 'live' | 'stale' | 'expired';
export type { Drain } from './store/redis-store.js';

export interface HubOptions {
  natsUrl: string;
  natsUser?: string;
  natsPassword?: string;
  /** Redis: the leader lease, drains, and a copy of the merged model. Without it this hub always leads. */
  redisUrl?: string;
  /** Leader lease time (default 5 s); a standby takes over within twice this after the leader dies. */
  leaseTtlMs?: number;
  edges: EdgeConfig[];
  /** Full re-read of every edge even without changes, to repair drift (default 5 s). */
  resyncIntervalMs?: number;
  /** A cluster whose heartbeat is older than this is stale (default 15 s); its servers stay. */
  staleAfterMs?: number;
  /** A cluster silent longer than this loses its endpoints (default: never). */
  expireAfterMs?: number;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

interface EdgeLoop {
  applier: EdgeApplier;
  running: Promise<void> | undefined;
  dirty: boolean;
  failures: number;
  retry: NodeJS.Timeout | undefined;
  last: ApplyOutcome | undefined;
  lastAt: number | undefined;
  /** When the last successful apply started: what it planned is at least as new as this. */
  lastStartedAt: number | undefined;
  lastError: string | undefined;
  applies: number;
  transactions: number;
  /** Spoke observation times of changes not yet applied to this edge. */
  observed: number[];
}

export interface EdgeStatus {
  edge: string;
  runtime: EdgeApplier['runtime'];
  zone: string;
  applies: number;
  transactions: number;
  lastError: string | undefined;
  last: ApplyOutcome | undefined;
  lastAt: number | undefined;
  lastStartedAt: number | undefined;
  configurationVersion: number | undefined;
}

/**
 * The hub: intake of every cluster's records, merge into one model, and per edge a level-based
 * loop that plans and applies. Nothing is written to any edge before the whole state bucket has been
 * read; edges are reconciled independently, so one unreachable edge delays no other. With Redis,
 * several hubs run and only the holder of the leader lease writes to edges and the status bucket.
 */
export class Hub {
  private nc: NatsConnection | undefined;
  readonly intake: StateIntake;
  readonly metrics = new HubMetrics();
  /** 'model', 'apply', 'cluster', 'leader' and 'drain' events, for the API's event stream. */
  readonly events = new EventEmitter();
  private readonly edges: EdgeLoop[];
  private model: FederatedModel | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stalenessTimer: NodeJS.Timeout | undefined;
  private readonly clusterStates = new Map<string, ClusterState>();
  private stopped = false;
  private pending: NodeJS.Timeout | undefined;
  readonly redis: RedisStore | undefined;
  private lease: LeaderLease | undefined;
  private status: StatusWriter | undefined;
  private statusChain: Promise<unknown> = Promise.resolve();
  private drains = new Map<string, Drain>();
  /** The last reload of each edge and HAProxy's verdict on it. */
  private readonly lastReload = new Map<string, { id: string; status: string }>();
  /** Leadership periods, for the record (start, end). */
  readonly leadership: Array<{ from: number; to: number | undefined; fence: number | undefined }> = [];

  constructor(private readonly opts: HubOptions) {
    this.events.setMaxListeners(1000);
    this.intake = new StateIntake(() => this.changed(), (l, m, f) => opts.log(l, m, f), (observedAt) => {
      for (const e of this.edges) e.observed.push(observedAt);
    });
    this.redis = opts.redisUrl ? new RedisStore(opts.redisUrl) : undefined;
    this.edges = opts.edges.map((e) => ({
      applier: new EdgeApplier(e), running: undefined, dirty: false, failures: 0, retry: undefined,
      last: undefined, lastAt: undefined, lastStartedAt: undefined, lastError: undefined, applies: 0, transactions: 0, observed: [],
    }));
  }

  async start(): Promise<void> {
    this.nc = await connectNats({ url: this.opts.natsUrl, user: this.opts.natsUser, password: this.opts.natsPassword, name: 'ingressfed-hub' },
      (m, f) => this.opts.log('warn', m, f));
    if (this.redis) {
      await this.redis.connect();
      await this.refreshDrains();
      this.lease = new LeaderLease(this.redis.redis, this.opts.leaseTtlMs ?? 5000, (s) => this.leadershipChanged(s));
      this.lease.start();
    } else {
      this.leadershipChanged({ leader: true, fence: undefined, holder: 'single' });
    }
    this.status = new StatusWriter(await openBucket(this.nc, STATUS_BUCKET));
    await this.status.load();
    const kv = await openBucket(this.nc, STATE_BUCKET);
    await this.intake.start(kv);
    this.scheduleResync();
    this.watchStaleness();
  }

  get ready(): boolean {
    return this.intake.initialized;
  }

  /** Whether this hub may write to edges and the status bucket now. */
  get isLeader(): boolean {
    return this.lease ? this.lease.state().leader : !this.stopped;
  }

  leaseState(): LeaseState {
    return this.lease?.state() ?? { leader: !this.stopped, fence: undefined, holder: 'single' };
  }

  currentModel(): FederatedModel | undefined {
    return this.model;
  }

  edgeStatus(): EdgeStatus[] {
    return this.edges.map((e) => ({
      edge: e.applier.edge.name, runtime: e.applier.runtime, zone: e.applier.edge.zone, applies: e.applies, transactions: e.transactions, lastError: e.lastError,
      last: e.last, lastAt: e.lastAt, lastStartedAt: e.lastStartedAt, configurationVersion: e.last?.version ?? e.applier.client.lastSeenVersion,
    }));
  }

  reloadOf(edge: string): { id: string; status: string } | undefined {
    return this.lastReload.get(edge);
  }

  /** Sessions still open on drained slots, per edge and backend. */
  drainSessions(): Array<{ edge: string; backend: string; slot: string; sessions: number }> {
    return this.edges.flatMap((e) => [...e.applier.sessions.entries()].flatMap(([backend, slots]) =>
      [...slots.entries()].map(([slot, sessions]) => ({ edge: e.applier.edge.name, backend, slot, sessions }))));
  }

  private leadershipChanged(s: LeaseState): void {
    this.metrics.leader.set(s.leader ? 1 : 0);
    if (s.leader) {
      this.leadership.push({ from: Date.now(), to: undefined, fence: s.fence });
      this.opts.log('info', 'leader lease acquired: writing to edges', { fence: s.fence, holder: s.holder });
      // A new leader plans again from scratch: edges and Ingress statuses alike.
      this.changed();
      for (const e of this.edges) this.kick(e);
    } else {
      const cur = this.leadership.at(-1);
      if (cur && cur.to === undefined) cur.to = Date.now();
      this.opts.log('warn', 'leader lease lost: no longer writing', { holder: s.holder });
    }
    this.events.emit('leader', { leader: s.leader, fence: s.fence ?? null });
  }

  // ---- drains -------------------------------------------------------------------------------------

  drainList(): Drain[] {
    return [...this.drains.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  }

  /** Drains a cluster or zone: its servers get no new requests, then leave once their sessions end. */
  async drain(kind: 'cluster' | 'zone', name: string): Promise<Drain> {
    const key = `${kind}/${name}`;
    const existing = this.drains.get(key);
    const d = existing ?? { kind, name, since: Date.now() };
    // In effect before anything else runs, so every apply that starts later plans with it.
    this.drains.set(key, d);
    try {
      await this.redis?.saveDrain(d);
    } catch (err) {
      if (!existing) this.drains.delete(key);
      throw err;
    }
    this.events.emit('drain', { action: 'drain', kind, name });
    this.changed();
    return d;
  }

  async undrain(kind: 'cluster' | 'zone', name: string): Promise<boolean> {
    const had = this.drains.delete(`${kind}/${name}`);
    await this.redis?.deleteDrain(kind, name);
    this.events.emit('drain', { action: 'undrain', kind, name });
    this.changed();
    return had;
  }

  private drainedPredicate(): ((e: Endpoint) => boolean) | undefined {
    if (this.drains.size === 0) return undefined;
    const clusters = new Set(this.drainList().filter((d) => d.kind === 'cluster').map((d) => d.name));
    const zones = new Set(this.drainList().filter((d) => d.kind === 'zone').map((d) => d.name));
    return (e) => clusters.has(e.cluster) || (e.zone !== null && zones.has(e.zone));
  }

  private async refreshDrains(): Promise<void> {
    if (!this.redis) return;
    try {
      const list = await this.redis.loadDrains();
      const next = new Map(list.map((d) => [`${d.kind}/${d.name}`, d]));
      const changed = JSON.stringify([...next.keys()].sort()) !== JSON.stringify([...this.drains.keys()].sort());
      this.drains = next;
      if (changed) this.changed();
    } catch (err) {
      this.opts.log('warn', 'cannot read drains from Redis; keeping the known ones', { error: (err as Error).message });
    }
  }

  // ---- the loop -----------------------------------------------------------------------------------

  /** Coalesces bursts of record changes into one pass. */
  private changed(): void {
    if (this.stopped || !this.intake.initialized || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      const snapshots = this.intake.snapshots();
      this.evaluateStaleness();
      const expired = new Set([...this.clusterStates].filter(([, st]) => st === 'expired').map(([c]) => c));
      const model = mergeClusters(snapshots, { expired });
      this.model = model;
      this.updateModelMetrics(model);
      this.events.emit('model', { routes: model.routes.length, backends: model.backends.length, conflicts: model.conflicts.length });
      for (const e of this.edges) this.kick(e);
      if (this.isLeader) {
        const statuses = computeStatuses(model, snapshots, this.opts.edges.map((e) => e.publicAddress));
        // Statuses follow the edges: an Ingress is reported served once the edges applied this model.
        const applying = this.edges.map((e) => e.running);
        this.statusChain = this.statusChain.then(() => Promise.all(applying)).then(() => (this.isLeader ? this.status?.sync(statuses) : undefined));
      }
      void this.redis?.saveModel({
        at: Date.now(),
        routes: model.routes.map((r) => ({ host: r.host, path: r.path, pathType: r.pathType, backend: backendKey(r.backend) })),
        backends: model.backends.map((b) => ({ id: backendKey(b.id), endpoints: b.endpoints })),
      });
    }, 5);
  }

  private updateModelMetrics(model: FederatedModel): void {
    this.metrics.routes.set(model.routes.length);
    this.metrics.conflicts.set(model.conflicts.length);
    this.metrics.refused.set(this.intake.refused.size);
    const byState = new Map<string, number>([['accepted', 0], ['invalid', 0], ['conflicted', 0], ['ignored', 0]]);
    for (const st of model.ingresses.values()) byState.set(st.state, (byState.get(st.state) ?? 0) + 1);
    for (const [state, n] of byState) this.metrics.ingresses.set({ state }, n);
  }

  private kick(e: EdgeLoop): void {
    e.dirty = true;
    if (e.running || e.retry || this.stopped) return;
    e.running = this.runEdge(e).finally(() => (e.running = undefined));
  }

  private async runEdge(e: EdgeLoop): Promise<void> {
    const edge = e.applier.edge.name;
    while (e.dirty && !this.stopped && this.model && this.isLeader) {
      e.dirty = false;
      const observed = e.observed.splice(0);
      const startedAt = Date.now();
      try {
        const out = await e.applier.reconcile(this.model, this.drainedPredicate(), this.leaseState().fence);
        const now = Date.now();
        e.last = out;
        e.lastAt = now;
        e.lastStartedAt = startedAt;
        e.applies++;
        const kind = out.transaction ? 'transaction' : out.runtimeChanges > 0 ? 'runtime' : 'none';
        this.metrics.applies.inc({ edge, kind, result: 'ok' });
        this.metrics.applyDuration.observe({ edge, kind }, out.durationMs / 1000);
        if (out.transaction) {
          e.transactions++;
          this.metrics.reloads.inc({ edge });
          if (out.reloadId) this.lastReload.set(edge, { id: out.reloadId, status: out.reloadStatus ?? 'unknown' });
        }
        if (kind !== 'none') for (const at of observed) this.metrics.propagation.observe({ edge }, Math.max(0, now - at) / 1000);
        e.failures = 0;
        e.lastError = undefined;
        if (kind !== 'none') {
          this.opts.log('info', 'edge applied', { edge, transaction: out.transaction, reloadId: out.reloadId, version: out.version, runtimeChanges: out.runtimeChanges, durationMs: out.durationMs });
          this.events.emit('apply', { edge, kind, version: out.version ?? null, reloadId: out.reloadId ?? null, runtimeChanges: out.runtimeChanges, durationMs: out.durationMs });
        }
      } catch (err) {
        e.observed.unshift(...observed);
        e.failures++;
        e.lastError = (err as Error).message;
        this.metrics.applies.inc({ edge, kind: 'unknown', result: 'error' });
        this.metrics.edgeErrors.inc({ edge });
        const wait = Math.min(250 * 2 ** Math.min(e.failures - 1, 5), 8000);
        this.opts.log('warn', 'edge apply failed; the edge keeps serving its last configuration', { edge, error: e.lastError, retryInMs: wait });
        this.events.emit('apply', { edge, kind: 'error', error: e.lastError });
        e.dirty = true;
        e.retry = setTimeout(() => {
          e.retry = undefined;
          this.kick(e);
        }, wait);
        return;
      }
    }
  }

  // ---- staleness ----------------------------------------------------------------------------------

  /** Each cluster's state from its heartbeat age on the hub's clock. */
  clusters(): Array<{ name: string; state: ClusterState; heartbeatAgeMs: number | undefined }> {
    return this.intake.clusterNames().map((name) => ({ name, state: this.clusterStates.get(name) ?? 'live', heartbeatAgeMs: this.intake.heartbeatAge(name) }));
  }

  /** Recomputes cluster states; true when any changed. */
  private evaluateStaleness(): boolean {
    const staleAfter = this.opts.staleAfterMs ?? 15_000;
    const expireAfter = this.opts.expireAfterMs;
    let changed = false;
    const counts = new Map<ClusterState, number>([['live', 0], ['stale', 0], ['expired', 0]]);
    for (const name of this.intake.clusterNames()) {
      const age = this.intake.heartbeatAge(name);
      const state: ClusterState = age === undefined || age <= staleAfter ? 'live'
        : expireAfter !== undefined && age > expireAfter ? 'expired' : 'stale';
      const before = this.clusterStates.get(name) ?? 'live';
      if (state !== before) {
        this.opts.log(state === 'live' ? 'info' : 'warn', `cluster ${state}`, { cluster: name, heartbeatAgeMs: age, was: before });
        this.events.emit('cluster', { cluster: name, state, was: before });
        changed = true;
      }
      this.clusterStates.set(name, state);
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    for (const [state, n] of counts) this.metrics.clusters.set({ state }, n);
    return changed;
  }

  private watchStaleness(): void {
    const every = Math.max(100, Math.min(1000, Math.floor((this.opts.staleAfterMs ?? 15_000) / 4)));
    this.stalenessTimer = setTimeout(() => {
      // Only an expiry changes what is planned; staleness alone changes the reports.
      const expiredBefore = [...this.clusterStates.values()].filter((s) => s === 'expired').length;
      if (this.evaluateStaleness() && [...this.clusterStates.values()].filter((s) => s === 'expired').length !== expiredBefore) this.changed();
      this.watchStaleness();
    }, every);
  }

  private scheduleResync(): void {
    this.resyncTimer = setTimeout(() => {
      void this.refreshDrains();
      if (this.model) for (const e of this.edges) this.kick(e);
      // While servers drain, follow their sessions closely so they leave as soon as they are idle.
      this.scheduleResync();
    }, this.drains.size > 0 ? Math.min(1000, this.opts.resyncIntervalMs ?? 5000) : this.opts.resyncIntervalMs ?? 5000);
  }

  /** Resolves once every edge has applied the current model (or failed trying) and statuses are written. */
  async idle(): Promise<void> {
    while (this.pending || this.edges.some((e) => e.running)) {
      await Promise.all([...this.edges.map((e) => e.running), this.statusChain]);
      if (this.pending) await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Stops the hub. `releaseLease: false` leaves the lease to run out, as a crashed hub would; by
   * default a clean stop gives it up so a standby takes over at once.
   */
  async stop(opts: { releaseLease?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    if (this.stalenessTimer) clearTimeout(this.stalenessTimer);
    if (this.pending) clearTimeout(this.pending);
    for (const e of this.edges) if (e.retry) clearTimeout(e.retry);
    await Promise.all(this.edges.map((e) => e.running));
    await this.statusChain;
    await this.lease?.stop(opts.releaseLease !== false);
    this.intake.stop();
    await this.redis?.close();
    await this.nc?.drain().catch(() => undefined);
  }
}
