import type { NatsConnection } from '@nats-io/transport-node';
import { STATE_BUCKET, STATUS_BUCKET } from '@ingressfed/schemas';
import { EdgeApplier, type ApplyOutcome, type EdgeConfig } from './apply/edge.js';
import { StateIntake } from './intake.js';
import { mergeClusters } from './model/merge.js';
import type { FederatedModel } from './model/types.js';
import { connectNats, openBucket } from '@ingressfed/schemas/nats';
import { RedisStore } from './store/redis-store.js';
import { StatusWriter, computeStatuses } from './status/status.js';
import { backendKey } from './model/types.js';

export type ClusterState = 'live' | 'stale' | 'expired';

export interface HubOptions {
  natsUrl: string;
  natsUser?: string;
  natsPassword?: string;
  /** Optional: a copy of the merged model is kept there for other replicas. */
  redisUrl?: string;
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
  lastError: string | undefined;
  applies: number;
  transactions: number;
}

/**
 * The hub: intake of every cluster's records, merge into one model, and per edge a level-based
 * loop that plans and applies. Nothing is written to any edge before the whole state bucket has been
 * read; edges are reconciled independently, so one unreachable edge delays no other.
 */
export class Hub {
  private nc: NatsConnection | undefined;
  readonly intake: StateIntake;
  private readonly edges: EdgeLoop[];
  private model: FederatedModel | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stalenessTimer: NodeJS.Timeout | undefined;
  private readonly clusterStates = new Map<string, ClusterState>();
  private stopped = false;
  private pending: NodeJS.Timeout | undefined;
  readonly redis: RedisStore | undefined;
  private status: StatusWriter | undefined;
  private statusChain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: HubOptions) {
    this.intake = new StateIntake(() => this.changed(), (l, m, f) => opts.log(l, m, f));
    this.redis = opts.redisUrl ? new RedisStore(opts.redisUrl) : undefined;
    this.edges = opts.edges.map((e) => ({
      applier: new EdgeApplier(e), running: undefined, dirty: false, failures: 0, retry: undefined,
      last: undefined, lastError: undefined, applies: 0, transactions: 0,
    }));
  }

  async start(): Promise<void> {
    this.nc = await connectNats({ url: this.opts.natsUrl, user: this.opts.natsUser, password: this.opts.natsPassword, name: 'ingressfed-hub' },
      (m, f) => this.opts.log('warn', m, f));
    await this.redis?.connect();
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

  currentModel(): FederatedModel | undefined {
    return this.model;
  }

  edgeStatus(): Array<{ edge: string; applies: number; transactions: number; lastError: string | undefined; last: ApplyOutcome | undefined }> {
    return this.edges.map((e) => ({ edge: e.applier.edge.name, applies: e.applies, transactions: e.transactions, lastError: e.lastError, last: e.last }));
  }

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
      for (const e of this.edges) this.kick(e);
      const statuses = computeStatuses(model, snapshots, this.opts.edges.map((e) => e.publicAddress));
      // Statuses follow the edges: an Ingress is reported served once the edges applied this model.
      const applying = this.edges.map((e) => e.running);
      this.statusChain = this.statusChain.then(() => Promise.all(applying)).then(() => this.status?.sync(statuses));
      void this.redis?.saveModel({
        at: Date.now(),
        routes: this.model.routes.map((r) => ({ host: r.host, path: r.path, pathType: r.pathType, backend: backendKey(r.backend) })),
        backends: this.model.backends.map((b) => ({ id: backendKey(b.id), endpoints: b.endpoints })),
      });
    }, 5);
  }

  private kick(e: EdgeLoop): void {
    e.dirty = true;
    if (e.running || e.retry || this.stopped) return;
    e.running = this.runEdge(e).finally(() => (e.running = undefined));
  }

  private async runEdge(e: EdgeLoop): Promise<void> {
    while (e.dirty && !this.stopped && this.model) {
      e.dirty = false;
      try {
        const out = await e.applier.reconcile(this.model);
        e.last = out;
        e.applies++;
        if (out.transaction) e.transactions++;
        e.failures = 0;
        e.lastError = undefined;
        if (out.transaction || out.runtimeChanges > 0) {
          this.opts.log('info', 'edge applied', { edge: out.edge, transaction: out.transaction, reloadId: out.reloadId, version: out.version, runtimeChanges: out.runtimeChanges, durationMs: out.durationMs });
        }
      } catch (err) {
        e.failures++;
        e.lastError = (err as Error).message;
        const wait = Math.min(250 * 2 ** Math.min(e.failures - 1, 5), 8000);
        this.opts.log('warn', 'edge apply failed; the edge keeps serving its last configuration', { edge: e.applier.edge.name, error: e.lastError, retryInMs: wait });
        e.dirty = true;
        e.retry = setTimeout(() => {
          e.retry = undefined;
          this.kick(e);
        }, wait);
        return;
      }
    }
  }

  /** Each cluster's state from its heartbeat age on the hub's clock. */
  clusters(): Array<{ name: string; state: ClusterState; heartbeatAgeMs: number | undefined }> {
    return this.intake.clusterNames().map((name) => ({ name, state: this.clusterStates.get(name) ?? 'live', heartbeatAgeMs: this.intake.heartbeatAge(name) }));
  }

  /** Recomputes cluster states; true when any changed. */
  private evaluateStaleness(): boolean {
    const staleAfter = this.opts.staleAfterMs ?? 15_000;
    const expireAfter = this.opts.expireAfterMs;
    let changed = false;
    for (const name of this.intake.clusterNames()) {
      const age = this.intake.heartbeatAge(name);
      const state: ClusterState = age === undefined || age <= staleAfter ? 'live'
        : expireAfter !== undefined && age > expireAfter ? 'expired' : 'stale';
      const before = this.clusterStates.get(name) ?? 'live';
      if (state !== before) {
        this.opts.log(state === 'live' ? 'info' : 'warn', `cluster ${state}`, { cluster: name, heartbeatAgeMs: age, was: before });
        changed = true;
      }
      this.clusterStates.set(name, state);
    }
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
      if (this.model) for (const e of this.edges) this.kick(e);
      this.scheduleResync();
    }, this.opts.resyncIntervalMs ?? 5000);
  }

  /** Resolves once every edge has applied the current model (or failed trying) and statuses are written. */
  async idle(): Promise<void> {
    while (this.pending || this.edges.some((e) => e.running)) {
      await Promise.all([...this.edges.map((e) => e.running), this.statusChain]);
      if (this.pending) await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    if (this.stalenessTimer) clearTimeout(this.stalenessTimer);
    if (this.pending) clearTimeout(this.pending);
    for (const e of this.edges) if (e.retry) clearTimeout(e.retry);
    await Promise.all(this.edges.map((e) => e.running));
    await this.statusChain;
    this.intake.stop();
    await this.redis?.close();
    await this.nc?.drain().catch(() => undefined);
  }
}
