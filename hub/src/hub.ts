import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { DRAINS_BUCKET, HELD_BUCKET, STATUS_BUCKET, objectKey, sealingPrivateKey, type IngressRecord, type ObjectRecord } from '@ingressfed/schemas';
import { openBucket, openStateBucket } from '@ingressfed/schemas/nats';
import { EdgeApplier, type ApplyOutcome, type EdgeConfig } from './apply/edge.js';
import { EdgeLoop, type Desired } from './apply/edge-loop.js';
import { RefusedConfigError, type FencedError } from './apply/errors.js';
import { isolateRefused } from './apply/isolate.js';
import { CertificateBook, type CertificateView } from './certificates.js';
import { certificateFileName, planTls, type TlsPlan } from './plan/tls.js';
import type { EdgeTls } from './apply/tls.js';
import { ClusterHealth, type ClusterHealthView } from './cluster-health.js';
import { DrainBook, type Drain } from './drains.js';
import { Links } from './links.js';
import { StateIntake } from './intake.js';
import { TOMBSTONE_TTL_MS } from './held.js';
import { HubMetrics } from './metrics.js';
import { EndpointPolicy } from './model/endpoint-policy.js';
import { HostPolicy, type HostRule } from './model/host-policy.js';
import { IncrementalMerge } from './model/incremental.js';
import { endpointRefusals } from './model/refusals.js';
import { mergeClusters } from './model/merge.js';
import type { FederatedModel } from './model/types.js';
import { Quarantine, sameContent, type QuarantinedRecord } from './quarantine.js';
import { StatusPass, StatusWriter, type EdgeProgress, type StatusMemo } from './status/status.js';
import { DEFAULT_LEASE_TTL_MS, LeaderLease, type LeaseState } from './store/lease.js';
import type { RedisStore } from './store/redis-store.js';
import { Turns } from './turns.js';

export type { ClusterHealthView, ClusterState } from './cluster-health.js';
export type { Drain } from './drains.js';

const recordKeys = new WeakMap<ObjectRecord, string>();

/** The state key of an Ingress record (remembered per record: statuses ask for ten thousand of them). */
function recordKey(ing: IngressRecord): string {
  let k = recordKeys.get(ing);
  if (k === undefined) recordKeys.set(ing, (k = objectKey(ing.cluster, 'ingress', ing.namespace, ing.name)));
  return k;
}

/** Records merged between checks of the turn's time (settling 64 records takes about a millisecond). */
const MERGE_STEP = 64;

export interface HubOptions {
  /** Leader lease time (default 5 s); a standby takes over within twice this after the leader dies. */
  leaseTtlMs?: number;
  edges: EdgeConfig[];
  /** Every edge is reconciled at least this often, to repair drift (default 5 s). */
  resyncIntervalMs?: number;
  /** How often every record is merged again, in slices, to check the incremental merge (default 10 min). */
  fullRecomputeIntervalMs?: number;
  /** A cluster whose heartbeat is older than this is stale (default 15 s); its servers stay. */
  staleAfterMs?: number;
  /** A cluster silent longer than this loses its endpoints (default: never). */
  expireAfterMs?: number;
  /** Time limit of one edge apply (default 60 s). */
  applyTimeoutMs?: number;
  /** The federation's clusters: entries of any other cluster are refused and reported (default: any cluster NATS lets write). */
  clusters?: readonly string[];
  /** Endpoint CIDRs a cluster (or `*`: every cluster) may use although refused by default (see EndpointPolicy). */
  allowedEndpointCidrs?: Record<string, readonly string[]>;
  /** Which clusters (and namespaces) may serve which hosts (see HostPolicy); hosts it does not cover are open to all. */
  hostPolicy?: readonly HostRule[];
  /**
   * The hub's sealing private keys (PEM, X25519), current first: spokes seal TLS keys to the current
   * one; older ones open what was sealed before a rotation.
   */
  sealingKeys?: readonly string[];
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** HTTPS from the model and the certificates (see Hub.tlsOutcome). */
interface TlsOutcome {
  /** What every edge serves over HTTPS. */
  edges: EdgeTls;
  /** Per Ingress, its TLS hosts that get no certificate from it, and why. */
  refusals: ReadonlyMap<string, string[]>;
  plan: TlsPlan;
}

/** The clients a hub works with, made by its owner (see connectHub). */
export interface HubClients {
  nc: NatsConnection;
  /** The leader lease, drains and a copy of the merged model. Without it this hub always leads. */
  redis?: RedisStore;
  /** Closes the clients; called last by stop(). */
  close?: () => Promise<void>;
}

export interface EdgeStatus {
  edge: string;
  runtime: EdgeApplier['runtime'];
  zone: string;
  applies: number;
  transactions: number;
  lastError: string | undefined;
  /** Since when every apply has failed (the edge keeps serving what it had); undefined while applies succeed. */
  failingSince: number | undefined;
  /** Changes observed by spokes and not yet live on this edge. */
  pendingChanges: number;
  /** A transaction waits for the model to settle. */
  transactionDeferred: boolean;
  last: ApplyOutcome | undefined;
  lastAt: number | undefined;
  lastStartedAt: number | undefined;
  configurationVersion: number | undefined;
}

/**
 * The hub: intake of every cluster's records, merge into one model, and per edge a level-based loop
 * that plans and applies. Nothing is written to any edge before the whole state bucket has been read;
 * edges are reconciled independently. With Redis, several hubs run and only the holder of the leader
 * lease writes to edges and the status bucket. A change HAProxy refuses is isolated to its record,
 * which is quarantined (planned at its last good version) while everything else applies.
 */
export class Hub {
  readonly intake: StateIntake;
  readonly metrics = new HubMetrics();
  /** 'model', 'apply', 'cluster', 'leader', 'drain' and 'quarantine' events, for the API's event stream. */
  readonly events = new EventEmitter();
  readonly redis: RedisStore | undefined;
  readonly quarantine = new Quarantine();
  /** The clusters' TLS certificates, their keys opened with the sealing keys. */
  readonly certificates: CertificateBook;
  private readonly endpointPolicy: EndpointPolicy;
  private readonly hostPolicy: HostPolicy;
  private readonly merge: IncrementalMerge;
  private readonly health: ClusterHealth;
  private readonly drainBook: DrainBook;
  /** How NATS and Redis are reached (readiness and the API). */
  readonly links: Links;
  private readonly edges: EdgeLoop[];
  private desiredState: Desired | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private pending: NodeJS.Timeout | undefined;
  /** Changed keys not merged yet. */
  private readonly queued = new Set<string>();
  /** Keys still to merge again in the running full recompute. */
  private readonly recompute = new Set<string>();
  private recomputeTimer: NodeJS.Timeout | undefined;
  private lease: LeaderLease | undefined;
  private status: StatusWriter | undefined;
  private statusChain: Promise<unknown> = Promise.resolve();
  private statusPending = false;
  private readonly statusMemo: StatusMemo = new Map();
  private statusInputs: unknown[] | undefined;
  private loggedRefusals = new Set<string>();
  private tlsMemo: { inputs: unknown[]; out: TlsOutcome; signature: string } | undefined;
  /** The model copy in Redis: what it holds (undefined: unknown), and the save in flight. */
  private savedModel: FederatedModel | undefined;
  private saving: Promise<void> | undefined;
  /** Leadership periods, for the record (start, end). */
  readonly leadership: Array<{ from: number; to: number | undefined; fence: number | undefined }> = [];

  constructor(private readonly opts: HubOptions, private readonly clients: HubClients) {
    this.events.setMaxListeners(1000);
    this.redis = clients.redis;
    this.endpointPolicy = new EndpointPolicy({ allowedCidrs: opts.allowedEndpointCidrs, edgeAddresses: opts.edges.flatMap(edgeAddresses) });
    this.hostPolicy = new HostPolicy(opts.hostPolicy);
    this.certificates = new CertificateBook((opts.sealingKeys ?? []).map(sealingPrivateKey));
    // Only the certificates' dates: each record is checked once a minute (see CertificateBook.judge).
    this.metrics.certificatesFrom(() => [...this.certificates.judge(this.intake.secrets()).values()]
      .map(({ record: r, check }) => ({ cluster: r.cluster, namespace: r.namespace, name: r.name, notAfter: check?.info?.notAfter ?? null })));
    this.merge = new IncrementalMerge({ endpointPolicy: this.endpointPolicy, hostPolicy: this.hostPolicy });
    this.intake = new StateIntake({
      onChange: () => this.changed(),
      // A heartbeat changes only staleness; the model is merged again only if a cluster expired or came back.
      onHeartbeat: () => void (this.intake.initialized && this.health.evaluate() && this.changed()),
      onObserved: (observedAt) => {
        for (const e of this.edges) e.observe(observedAt);
      },
      log: (l, m, f) => opts.log(l, m, f),
      knownClusters: opts.clusters ? new Set(opts.clusters) : undefined,
    });
    this.health = new ClusterHealth(this.intake, opts, this.metrics, this.events, opts.log);
    this.drainBook = new DrainBook(opts.log);
    this.links = new Links(clients.nc, clients.redis);
    this.edges = opts.edges.map((e) => new EdgeLoop(this.applier(e), {
      desired: () => (this.isLeader && !this.stopped ? this.desiredWithLease() : undefined),
      onRefused: (loop, err) => this.isolate(loop, err),
      onFenced: (loop, err) => this.fenced(loop, err),
      onSettled: () => this.statusesChanged(),
      metrics: this.metrics, events: this.events, log: opts.log, applyTimeoutMs: opts.applyTimeoutMs,
    }));
  }

  private applier(e: EdgeConfig): EdgeApplier {
    const a = new EdgeApplier(e);
    // Every write to the edge is asked for first: nothing is sent once the lease may have run out.
    a.client.writeGuard = () => this.writeRefusal();
    a.onPlanned = (seconds) => this.metrics.plan.observe({ edge: e.name }, seconds);
    return a;
  }

  async start(): Promise<void> {
    this.metrics.start();
    if (this.redis) {
      await this.redis.connect();
      this.lease = new LeaderLease(this.redis.redis, this.opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS, (s) => this.leadershipChanged(s));
      this.lease.start();
    } else {
      this.leadershipChanged({ leader: true, fence: undefined, holder: 'single' });
    }
    await this.drainBook.open(await openBucket(this.clients.nc, DRAINS_BUCKET), () => this.changed());
    this.status = new StatusWriter(await openBucket(this.clients.nc, STATUS_BUCKET));
    await this.status.load();
    await this.intake.start(await openStateBucket(this.clients.nc), await openBucket(this.clients.nc, HELD_BUCKET, TOMBSTONE_TTL_MS));
    this.scheduleResync();
    this.scheduleFullRecompute();
    this.health.watch(() => this.changed());
  }

  /** Why the hub is not ready (the state bucket not read yet, NATS lost), or undefined when it is. */
  notReady(): string | undefined {
    if (!this.intake.initialized) return 'the state bucket has not been read completely yet';
    const nats = this.links.view().nats;
    if (!nats.connected) return `NATS is unreachable${nats.downForMs === null ? '' : ` for ${Math.round(nats.downForMs / 1000)} s`}: no change can be heard or status written`;
    return undefined;
  }

  get ready(): boolean {
    return this.notReady() === undefined;
  }

  /** Whether this hub may write to edges and the status bucket now. */
  get isLeader(): boolean {
    return this.lease ? this.lease.state().leader : !this.stopped;
  }

  /** Why this hub may not write to edges now, or undefined when it may. */
  private writeRefusal(): string | undefined {
    if (this.stopped) return 'the hub is stopping';
    if (!this.lease) return undefined;
    // A write must reach the edge before the lease could have passed to another hub.
    const margin = Math.floor((this.opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS) / 5);
    return this.lease.validFor() > margin ? undefined : `the leader lease is not held for another ${margin} ms`;
  }

  /**
   * An edge carries a fence above this leader's. Either a newer leader wrote to it (this hub is
   * deposed), or the fence counter went back (Redis lost its data): a fence above the edge's is then
   * taken, while the lease is still this hub's, and the edge is written with it. A leader that can
   * do neither gives its lease up, saying why, so that a standby takes over.
   */
  private async fenced(loop: EdgeLoop, err: FencedError): Promise<void> {
    if (!this.lease || err.seen === undefined || !this.isLeader) return;
    try {
      const fence = await this.lease.raiseFence(err.seen);
      if (fence === undefined) {
        this.opts.log('warn', 'an edge carries a newer fence and the lease is another hub\'s: no longer writing', { edge: loop.name, edgeFence: err.seen });
        return;
      }
      this.metrics.fenceRaised.inc();
      this.opts.log('warn', 'an edge carries a fence above this leader\'s while the lease is this hub\'s (the fence counter was lost): fence raised past it', { edge: loop.name, edgeFence: err.seen, fence });
      for (const e of this.edges) e.kick();
    } catch (e) {
      this.opts.log('error', 'cannot raise the fence past the edge\'s: giving the lease up so that another hub can write', { edge: loop.name, edgeFence: err.seen, error: (e as Error).message });
      await this.lease.resign(2 * (this.opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS));
    }
  }

  leaseState(): LeaseState {
    return this.lease?.state() ?? { leader: !this.stopped, fence: undefined, holder: 'single' };
  }

  currentModel(): FederatedModel | undefined {
    return this.desiredState?.model;
  }

  /** Every TLS certificate the clusters publish or their Ingresses name, judged now. */
  certificateViews(now = Date.now()): CertificateView[] {
    const model = this.currentModel();
    const plan = model ? this.tlsOutcome(model).plan : { hosts: [], refusals: [] };
    return this.certificates.views(this.intake.secrets(), this.intake.ingresses(), plan, now);
  }

  edgeStatus(): EdgeStatus[] {
    return this.edges.map((e) => ({
      edge: e.name, runtime: e.applier.runtime, zone: e.applier.edge.zone, applies: e.applies, transactions: e.transactions, lastError: e.lastError,
      failingSince: e.failingSince, pendingChanges: e.pendingChanges,
      last: e.last, lastAt: e.lastAt, lastStartedAt: e.lastStartedAt, configurationVersion: e.last?.version ?? e.applier.client.lastSeenVersion, transactionDeferred: e.deferred,
    }));
  }

  reloadOf(edge: string): { id: string; status: string } | undefined {
    return this.edges.find((e) => e.name === edge)?.lastReload;
  }

  /** Sessions still open on drained slots, per edge and backend. */
  drainSessions(): Array<{ edge: string; backend: string; slot: string; sessions: number }> {
    return this.edges.flatMap((e) => [...e.applier.sessions.entries()].flatMap(([backend, slots]) =>
      [...slots.entries()].map(([slot, sessions]) => ({ edge: e.name, backend, slot, sessions }))));
  }

  clusters(): ClusterHealthView[] {
    return this.health.list();
  }

  private leadershipChanged(s: LeaseState): void {
    this.metrics.leader.set(s.leader ? 1 : 0);
    if (s.leader) {
      this.leadership.push({ from: Date.now(), to: undefined, fence: s.fence });
      this.opts.log('info', 'leader lease acquired: writing to edges', { fence: s.fence, holder: s.holder });
      // A new leader plans again from scratch: edges, Ingress statuses and the model copy alike.
      for (const e of this.edges) e.leadershipChanged();
      this.savedModel = undefined;
      this.statusInputs = undefined;
      this.statusesChanged();
      this.saveModel();
      this.changed();
      for (const e of this.edges) e.kick();
    } else {
      const cur = this.leadership.at(-1);
      if (cur && cur.to === undefined) {
        cur.to = Date.now();
        this.metrics.leaderLost.inc();
      }
      this.opts.log('warn', 'leader lease lost: no longer writing', { holder: s.holder });
    }
    this.events.emit('leader', { leader: s.leader, fence: s.fence ?? null });
  }

  // ---- drains -------------------------------------------------------------------------------------

  drainList(): Drain[] {
    return this.drainBook.list();
  }

  /** Drains a cluster or zone: its servers get no new requests, then leave once their sessions end. */
  async drain(kind: 'cluster' | 'zone', name: string): Promise<Drain> {
    const d = await this.drainBook.add(kind, name);
    this.events.emit('drain', { action: 'drain', kind, name });
    this.changed();
    return d;
  }

  async undrain(kind: 'cluster' | 'zone', name: string): Promise<boolean> {
    const had = await this.drainBook.remove(kind, name);
    this.events.emit('drain', { action: 'undrain', kind, name });
    this.changed();
    return had;
  }

  // ---- model --------------------------------------------------------------------------------------

  private buildModel(records: ReadonlyMap<string, ObjectRecord>): FederatedModel {
    return mergeClusters(this.intake.snapshots(records), { expired: this.health.expired(), endpointPolicy: this.endpointPolicy, hostPolicy: this.hostPolicy });
  }

  /** The desired state, with the fence and drains in force now. */
  private desiredWithLease(): Desired | undefined {
    const d = this.desiredState;
    // Records still arriving, or still being merged, count as a change now (see EdgeLoop SETTLE_MS).
    const changedAt = this.queued.size > 0 ? Date.now() : Math.max(d?.changedAt ?? 0, this.intake.lastChangeAt);
    return d && { ...d, drained: this.drainBook.predicate(), fence: this.leaseState().fence, changedAt };
  }

  /** Coalesces bursts of record changes into one pass. */
  private changed(): void {
    if (this.stopped || !this.intake.initialized || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.rebuild();
    }, 5);
  }

  /**
   * Brings the model up to date with the records that changed (with the quarantine in force) and
   * kicks every edge. Work is proportional to the change: the merge is incremental, and statuses and
   * the model copy are refreshed only when the model did change.
   */
  private rebuild(): void {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    this.health.evaluate();
    this.merge.setExpired(this.health.expired());
    for (const c of this.intake.clusterNames()) this.merge.setZone(c, this.intake.zone(c));
    for (const key of this.intake.takeChanges()) this.queued.add(key);
    const timer = this.metrics.merge.startTimer();
    // A burst (a cluster's first records, a relist) is merged in short turns, a few records at a
    // time, the event loop free between turns; the model is published only once the burst is merged.
    const turn = new Turns();
    const fed = this.mergeSome(this.queued, (key) => this.feed(key), turn);
    // The full recompute goes on between changes, a slice at a time.
    const checking = fed === 0 && this.recompute.size > 0;
    // The model as it is (zones and expiry applied), to compare with after the slice is merged again.
    const before = checking ? this.merge.model() : undefined;
    if (checking) this.mergeSome(this.recompute, (key) => this.merge.touch(key), turn);
    if (this.queued.size > 0) {
      // In the middle of a burst: the model is assembled once the burst is merged.
      timer();
      this.pending = setTimeout(() => this.rebuild(), 0);
      return;
    }
    const model = this.merge.model();
    timer();
    if (checking && model !== before) {
      this.metrics.mergeDrift.inc();
      this.opts.log('error', 'the full recompute changed the model although no record changed: the incremental merge had missed a dependency; repaired', {});
    }
    if (this.recompute.size > 0) this.pending = setTimeout(() => this.rebuild(), 0);
    // Nothing to publish after a recompute slice that changed nothing.
    if (checking && model === this.desiredState?.model) return;
    this.metrics.refused.set(this.intake.refused.size);
    this.metrics.quarantined.set(this.quarantine.size);
    const tls = this.tlsOutcome(model).edges;
    if (model !== this.desiredState?.model || tls !== this.desiredState.tls) {
      // The records this model was merged from, as they are now (the merge keeps changing its own).
      this.desiredState = { model, records: this.merge.records.snapshot(), ingressVersion: `${this.intake.ingressVersion}.${this.quarantine.version}`, changedAt: Date.now(), tls };
      this.updateModelMetrics(model);
      this.events.emit('model', { routes: model.routes.length, backends: model.backends.length, conflicts: model.conflicts.length });
      this.statusesChanged();
      this.saveModel();
    } else {
      // The same model from other records (a Secret changed): statuses may still differ (TLS refusals).
      this.statusesChanged();
    }
    for (const e of this.edges) e.kick();
  }

  /** Takes keys from `keys` into the merge and settles them, a few at a time, until the turn is used. */
  private mergeSome(keys: Set<string>, take: (key: string) => void, turn: Turns): number {
    let n = 0;
    for (const key of keys) {
      keys.delete(key);
      take(key);
      if (++n % MERGE_STEP === 0) {
        this.merge.settle();
        if (turn.due) break;
      }
    }
    this.merge.settle();
    return n;
  }

  /** Hands the merge a changed record, or its last good version while it is quarantined. */
  private feed(key: string): void {
    const current = this.intake.record(key);
    const q = this.quarantine.get(key);
    if (q && !sameContent(current, q.refused)) {
      this.quarantine.lift(key);
      this.opts.log('info', 'quarantined record changed; trying it again', { key });
    }
    const held = this.quarantine.get(key);
    this.merge.put(key, held ? held.good : current);
  }

  /** Keeps the model copy in Redis current, one save at a time, each writing only what changed. */
  private saveModel(): void {
    if (!this.redis || this.saving || !this.isLeader) return;
    const next = this.desiredState?.model;
    if (!next || next === this.savedModel) return;
    this.saving = this.redis.saveModel(this.savedModel, next).then((ok) => {
      this.savedModel = ok ? next : undefined;
      this.saving = undefined;
      if (!this.stopped) this.saveModel();
    });
  }

  private updateModelMetrics(model: FederatedModel): void {
    this.metrics.routes.set(model.routes.length);
    this.metrics.conflicts.set(model.conflicts.length);
    const byState = new Map<string, number>([['accepted', 0], ['invalid', 0], ['conflicted', 0], ['ignored', 0]]);
    for (const st of model.ingresses.values()) byState.set(st.state, (byState.get(st.state) ?? 0) + 1);
    for (const [state, n] of byState) this.metrics.ingresses.set({ state }, n);
    // Refused endpoints: counted per cluster, and each logged once, when it first appears.
    const refusals = endpointRefusals(model);
    this.metrics.refusedEndpoints.reset();
    for (const [cluster, n] of refusals.byCluster) this.metrics.refusedEndpoints.set({ cluster }, n);
    const lines = new Set(refusals.lines);
    for (const line of lines) if (!this.loggedRefusals.has(line)) this.opts.log('warn', 'endpoint refused', { reason: line });
    this.loggedRefusals = lines;
  }

  // ---- statuses -----------------------------------------------------------------------------------

  /** How far each edge is: an Ingress is live on an edge once the edge applied the version planned now. */
  private edgeProgress(d: Desired): EdgeProgress[] {
    return this.edges.map((e) => ({
      name: e.name,
      publicAddress: e.applier.edge.publicAddress,
      problem: e.lastError,
      live: (key, ing) => {
        const applied = e.applied;
        if (!applied) return false;
        const k = recordKey(ing);
        return applied.model.ingresses.get(key)?.state === d.model.ingresses.get(key)?.state && sameContent(applied.records.get(k), d.records.get(k));
      },
    }));
  }

  /**
   * HTTPS from the model and the certificates (see planTls): what every edge serves (certificate
   * files and the hosts of each) and, per Ingress (cluster/namespace/name), the hosts of its spec.tls
   * that cannot get its certificate, and why. The same objects while the model, the Ingress and
   * Secret records and the minute are (certificates expire).
   */
  private tlsOutcome(model: FederatedModel): TlsOutcome {
    // Routes and Ingress states keep their identity across endpoint changes: those cost nothing here.
    const inputs = [model.routes, model.ingresses, this.intake.ingressVersion, this.intake.secretVersion, Math.floor(Date.now() / 60_000)];
    if (this.tlsMemo && inputs.every((x, i) => x === this.tlsMemo?.inputs[i])) return this.tlsMemo.out;
    const judged = this.certificates.judge(this.intake.secrets());
    const plan = planTls(model, this.intake.ingresses(), new Map([...judged].map(([id, j]) => [id, j.verdict])));
    const refusals = new Map<string, string[]>();
    for (const r of plan.refusals) refusals.set(r.ingress, [...(refusals.get(r.ingress) ?? []), `no certificate for ${r.host}: ${r.reason}`]);
    this.metrics.tlsRefused.reset();
    for (const r of plan.refusals) this.metrics.tlsRefused.inc({ cluster: r.ingress.split('/')[0] ?? '' });
    const files = new Map<string, { pem: string; fingerprint: string }>();
    const hostsOf = new Map<string, string[]>();
    for (const h of plan.hosts) {
      const j = judged.get(h.certificate);
      if (!j?.keyPem || 'problem' in j.verdict) continue;
      const file = certificateFileName(h.certificate);
      files.set(file, { pem: `${j.keyPem.trimEnd()}\n${j.record.spec.certificate}`, fingerprint: j.verdict.fingerprint });
      hostsOf.set(file, [...(hostsOf.get(file) ?? []), h.host]);
    }
    const entries = [...hostsOf].sort(([a], [b]) => a.localeCompare(b)).map(([file, hosts]) => ({ file, hosts }));
    const redirects = plan.hosts.filter((h) => h.redirect && files.has(certificateFileName(h.certificate))).map((h) => h.host);
    // Recomputed every minute (expiry): the same objects while nothing in them changed, so that no
    // new desired state (and no status pass) follows.
    const signature = JSON.stringify([[...files].map(([f, v]) => [f, v.fingerprint]), entries, redirects, [...refusals]]);
    if (this.tlsMemo?.signature === signature) {
      this.tlsMemo = { ...this.tlsMemo, inputs };
      return this.tlsMemo.out;
    }
    const out = { edges: { files, entries, redirects }, refusals, plan };
    this.tlsMemo = { inputs, out, signature };
    return out;
  }

  /** Recomputes the Ingress statuses after the model or an edge changed; one write pass at a time. */
  private statusesChanged(): void {
    if (!this.isLeader || this.statusPending) return;
    this.statusPending = true;
    this.statusChain = this.statusChain.then(async () => {
      this.statusPending = false;
      const d = this.desiredState;
      if (!d || !this.isLeader || this.stopped) return;
      // Statuses depend on the Ingresses' states and records, and on which of them each edge has
      // applied: when none of these moved (an endpoint change, a resync), nothing is recomputed.
      const endpoints = endpointRefusals(d.model);
      const tls = this.tlsOutcome(d.model).refusals;
      const inputs = [d.model.ingresses, d.model.conflicts.length > 0 ? d.model.routes : undefined, d.ingressVersion, endpoints.lines.join('\n'), tls,
        ...this.edges.flatMap((e) => [e.applied?.model.ingresses, e.applied?.ingressVersion, e.lastError])];
      if (this.statusInputs && this.statusInputs.length === inputs.length && inputs.every((x, i) => x === this.statusInputs?.[i])) return;
      // Every received Ingress gets a status, a quarantined one too (the model may not have it).
      const pass = new StatusPass(d.model, this.edgeProgress(d), this.quarantine.byIngress(d.records), this.statusMemo, endpoints.byIngress, tls);
      const turns = new Turns();
      for (const ing of this.intake.ingresses()) {
        pass.add(ing);
        if (turns.due) await turns.pause();
      }
      await this.status?.sync(pass.finish());
      // Written: the same inputs need no pass (a failed write is tried again with the next one).
      this.statusInputs = this.status?.lastError ? undefined : inputs;
    });
  }

  // ---- refusals -----------------------------------------------------------------------------------

  /**
   * HAProxy refused the plan on an edge: find the record changes that cause it (checked with HAProxy
   * without committing), quarantine them, and plan again without them.
   */
  private async isolate(loop: EdgeLoop, err: RefusedConfigError): Promise<void> {
    const d = this.desiredWithLease();
    if (!d) return;
    const good = loop.applied?.records ?? new Map<string, ObjectRecord>();
    const keys = new Set([...d.records.keys(), ...good.keys()]);
    const changes = [...keys].filter((k) => !sameContent(d.records.get(k), good.get(k))).sort();
    const passes = async (excluded: ReadonlySet<string>): Promise<boolean> => {
      const records = new Map(d.records);
      for (const k of excluded) {
        const g = good.get(k);
        if (g) records.set(k, g);
        else records.delete(k);
      }
      try {
        await loop.withTimeLimit((signal) => loop.applier.validate({ ...d, model: this.buildModel(records) }, signal));
        return true;
      } catch (e) {
        if (e instanceof RefusedConfigError) return false;
        throw e;
      }
    };
    const culprits = await isolateRefused(changes, passes);
    if (culprits.length === 0) {
      this.opts.log('error', 'HAProxy refuses the configuration, and no record change explains it; the edge keeps its last configuration', { edge: loop.name, changes: changes.length, error: err.refusal });
      return;
    }
    for (const key of culprits) {
      const entry: QuarantinedRecord = {
        key, cluster: key.split('.')[0] ?? '', reason: err.refusal.slice(0, 2000), edge: loop.name, since: Date.now(), refused: d.records.get(key), good: good.get(key),
      };
      this.quarantine.add(entry);
      this.feed(key);
      this.opts.log('warn', 'record quarantined: HAProxy refuses its change; its last good version is planned instead', { key, edge: loop.name, error: entry.reason });
      this.events.emit('quarantine', { key, cluster: entry.cluster, edge: loop.name, reason: entry.reason });
    }
    // The loop's next pass must plan with the quarantine in force.
    this.rebuild();
  }

  // ---- resync -------------------------------------------------------------------------------------

  /** Every record merged again, in slices between changes; a model that changes shows a merge bug. */
  private scheduleFullRecompute(): void {
    this.recomputeTimer = setTimeout(() => {
      for (const key of this.merge.records.keys()) this.recompute.add(key);
      this.changed();
      // The bucket's keys too: a change the watch never delivered (a stream purged under it) is caught.
      void this.intake.audit().then((n) => n > 0 && this.metrics.auditRepairs.inc(n), (err: Error) => this.opts.log('warn', 'cannot list the state bucket\'s keys', { error: err.message }));
      this.scheduleFullRecompute();
    }, this.opts.fullRecomputeIntervalMs ?? 600_000);
  }

  private scheduleResync(): void {
    // While servers drain, follow their sessions closely so they leave as soon as they are idle.
    const every = this.drainBook.size > 0 ? Math.min(1000, this.opts.resyncIntervalMs ?? 5000) : this.opts.resyncIntervalMs ?? 5000;
    this.resyncTimer = setTimeout(() => {
      for (const e of this.edges) e.kick();
      this.scheduleResync();
    }, every);
  }

  /** Resolves once every edge has applied the current model (or failed trying) and statuses are written. */
  async idle(): Promise<void> {
    while (this.pending || this.edges.some((e) => e.busy)) {
      await Promise.all([...this.edges.map((e) => e.busy), this.statusChain]);
      if (this.pending) await new Promise((r) => setTimeout(r, 10));
    }
    await this.statusChain;
  }

  /**
   * Stops the hub. `releaseLease: false` leaves the lease to run out, as a crashed hub would; by
   * default a clean stop gives it up so a standby takes over at once.
   */
  async stop(opts: { releaseLease?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    if (this.recomputeTimer) clearTimeout(this.recomputeTimer);
    if (this.pending) clearTimeout(this.pending);
    this.health.stop();
    this.drainBook.stop();
    await Promise.all(this.edges.map((e) => e.stop()));
    await this.statusChain;
    await this.saving;
    await this.lease?.stop(opts.releaseLease !== false);
    this.intake.stop();
    this.metrics.close();
    await this.clients.close?.();
  }
}

/** The addresses of an edge that endpoints may never name: where it listens, its public address, its Data Plane API. */
function edgeAddresses(e: EdgeConfig): string[] {
  let api = '';
  try {
    api = new URL(e.url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    // checked with the configuration
  }
  return [e.bindAddress, e.publicAddress, api].filter((a) => isIP(a) !== 0);
}
