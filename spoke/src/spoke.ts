import { randomUUID } from 'node:crypto';
import {
  CoreV1Api, DiscoveryV1Api, KubeConfig, NetworkingV1Api,
  type V1EndpointSlice, type V1Ingress, type V1IngressClass, type V1Node, type V1Secret, type V1Service,
} from '@kubernetes/client-node';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { SCHEMA_VERSION, STATE_BUCKET, STATUS_BUCKET, heartbeatKey, infoKey, sealingPublicKey, type ClusterInfo, type Heartbeat } from '@ingressfed/schemas';
import { EventRecorder } from './events.js';
import { SupervisedInformer, type InformerHealth } from './informers.js';
import { connectNats, openExistingBucket, spokeInboxPrefix, type ClientTls } from '@ingressfed/schemas/nats';
import { StatePublisher, type SyncResult } from './publisher.js';
import { IngressStatusWriter } from './status-writer.js';
import { RecordTracker, publishOrder } from './tracker.js';
import type { DesiredRecord } from './translate.js';
import { KeySealer, TLS_SECRET_SELECTOR } from './secrets.js';
import type { SpokeMetrics } from './metrics.js';

/** The API server configuration: the kubeconfig given, else the in-cluster one (a Pod's ServiceAccount). */
export function kubeConfigFor(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath !== undefined) {
    kc.loadFromFile(kubeconfigPath);
    return kc;
  }
  if (!process.env.KUBERNETES_SERVICE_HOST) {
    throw new Error('no kubeconfig given (--kubeconfig or KUBECONFIG) and not running in a Kubernetes Pod (KUBERNETES_SERVICE_HOST is not set)');
  }
  kc.loadFromCluster();
  return kc;
}

export const SPOKE_VERSION = '0.1.0';

export interface SpokeOptions {
  cluster: string;
  zone: string;
  region?: string;
  endpointMode: 'pod' | 'nodeport' | 'loadbalancer';
  /** Serve only this IngressClass; undefined: every class whose controller is ingressfed.io/hub. */
  ingressClass?: string;
  /** Watch Nodes even in pod mode, for Services annotated `ingressfed.io/endpoint-mode: nodeport`. */
  watchNodes?: boolean;
  /** A kubeconfig file; without one, the in-cluster configuration (the Pod's ServiceAccount). */
  kubeconfigPath?: string;
  natsUrl: string;
  natsUser?: string;
  natsPassword?: string;
  /** TLS to NATS: the server's CA, and this spoke's certificate and key when the server asks for one. */
  natsTls?: ClientTls;
  heartbeatIntervalMs?: number;
  /**
   * How long a kind whose list came back empty while objects were known must stay empty before the
   * spoke believes it (default 30 s): an empty relist from a broken API server must not empty the
   * federation. Deletions seen one by one on a watch are believed at once.
   */
  emptyListGraceMs?: number;
  /**
   * A watch that delivered nothing (no event, no bookmark) for this long is checked against the
   * API server, and relisted if it missed something (default 90 s; see SupervisedInformer).
   */
  watchStallMs?: number;
  /** How long a list, or the answer to a watch request, may take before it counts as failed (default 60 s). */
  kubeRequestTimeoutMs?: number;
  /**
   * The hub's sealing public key (PEM, X25519): with it the spoke publishes the TLS Secrets its
   * Ingresses name, their private keys sealed to it; without it, it reads no Secret.
   */
  hubSealingKey?: string;
  /** Where to count watch events, publishes, errors and refusals (the program's /metrics). */
  metrics?: SpokeMetrics;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * The agent of one cluster: informers on the kinds ingressfed reads, a level-based pass that turns
 * their caches into records and syncs them to the state bucket, and a heartbeat.
 */
export class Spoke {
  readonly epoch = randomUUID();
  private nc: NatsConnection | undefined;
  private kv: KV | undefined;
  private publisher: StatePublisher | undefined;
  private statusWriter: IngressStatusWriter | undefined;
  private events: EventRecorder | undefined;
  /** Refusal Events being written (awaited by stop()). */
  private eventChain: Promise<void> = Promise.resolve();
  private informers: {
    ingressClasses: SupervisedInformer<V1IngressClass>;
    ingresses: SupervisedInformer<V1Ingress>;
    services: SupervisedInformer<V1Service>;
    endpointSlices: SupervisedInformer<V1EndpointSlice>;
    nodes?: SupervisedInformer<V1Node>;
    secrets?: SupervisedInformer<V1Secret>;
  } | undefined;
  private tracker: RecordTracker | undefined;
  /** The next pass recomputes every record from the caches (start, relists). */
  private resetNeeded = true;
  /** This cluster's keys changed in the bucket without the spoke: read the bucket again, then rewrite what differs. */
  private reloadNeeded = false;
  /** The next pass compares every record with the bucket (start, after a failed write). */
  private fullSync = true;
  private dirty = false;
  private running: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  passes = 0;
  /** False from a NATS disconnection until the reconnection. */
  private natsUp = false;
  /** Records not published because the hub would refuse them (a counter: each new refusal counts once). */
  refusedRecords = 0;

  constructor(private readonly opts: SpokeOptions) {}

  async start(): Promise<void> {
    const { opts } = this;
    const warn = (msg: string, f?: Record<string, unknown>): void => opts.log('warn', msg, f);
    this.nc = await connectNats({ url: opts.natsUrl, user: opts.natsUser, password: opts.natsPassword, name: `ingressfed-spoke-${opts.cluster}`, inboxPrefix: spokeInboxPrefix(opts.cluster), tls: opts.natsTls },
      warn, this.abort.signal);
    this.natsUp = true;
    this.followNatsStatus(this.nc);
    // The hub creates the buckets; a spoke opens them and touches only its own keys.
    this.kv = await openExistingBucket(this.nc, STATE_BUCKET, infoKey(opts.cluster), warn, this.abort.signal);
    this.publisher = new StatePublisher(this.kv, opts.cluster);
    const existing = await this.publisher.loadExisting();
    // Anti-entropy: a key of this cluster deleted or altered by anyone else is rewritten.
    await this.publisher.watchForDrift((key) => {
      if (!this.reloadNeeded) opts.log('warn', 'a key of this cluster changed in the state bucket without this spoke; reading the bucket again to restore it', { key });
      this.reloadNeeded = true;
      this.markDirty();
    });
    opts.log('info', 'connected to NATS', { url: opts.natsUrl, existingRecords: existing, epoch: this.epoch });
    await this.kv.put(infoKey(opts.cluster), JSON.stringify(this.info()));

    const kc = kubeConfigFor(opts.kubeconfigPath);
    const net = kc.makeApiClient(NetworkingV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const disc = kc.makeApiClient(DiscoveryV1Api);
    const sealer = opts.hubSealingKey ? new KeySealer(sealingPublicKey(opts.hubSealingKey), opts.cluster) : undefined;
    if (!sealer) opts.log('info', 'no hub sealing key: TLS Secrets are neither read nor published');
    const tracker = new RecordTracker({ cluster: opts.cluster, epoch: this.epoch, ingressClass: opts.ingressClass, endpointMode: opts.endpointMode, sealer });
    this.tracker = tracker;
    this.events = new EventRecorder(core, opts.cluster);
    const common = { kubeconfig: kc, watchStallMs: opts.watchStallMs, requestTimeoutMs: opts.kubeRequestTimeoutMs, log: (l: 'info' | 'warn', m: string, f?: Record<string, unknown>) => opts.log(l, m, f) };
    // Each change is noted for the records it bears on; a (re)list recomputes them all.
    const changed = <T>(kind: string, note: (c: { obj: T; deleted: boolean }) => void) => (c?: { obj: T; deleted: boolean }): void => {
      opts.metrics?.watchEvents.inc({ kind, type: c ? (c.deleted ? 'deleted' : 'changed') : 'relisted' });
      if (c) note(c);
      else this.resetNeeded = true;
      this.markDirty();
      this.statusWriter?.kick();
    };
    const inf: NonNullable<Spoke['informers']> = {
      ingressClasses: new SupervisedInformer<V1IngressClass>({ ...common, name: 'ingressclasses', path: '/apis/networking.k8s.io/v1/ingressclasses', list: (limit) => net.listIngressClass({ limit }),
        onChange: changed('ingressclasses', () => tracker.setClasses(inf.ingressClasses.list())) }),
      ingresses: new SupervisedInformer<V1Ingress>({ ...common, name: 'ingresses', path: '/apis/networking.k8s.io/v1/ingresses', list: (limit) => net.listIngressForAllNamespaces({ limit }),
        onChange: changed('ingresses', (c) => tracker.note('ingress', c.obj, c.deleted)) }),
      services: new SupervisedInformer<V1Service>({ ...common, name: 'services', path: '/api/v1/services', list: (limit) => core.listServiceForAllNamespaces({ limit }),
        onChange: changed('services', (c) => tracker.note('service', c.obj, c.deleted)) }),
      endpointSlices: new SupervisedInformer<V1EndpointSlice>({ ...common, name: 'endpointslices', path: '/apis/discovery.k8s.io/v1/endpointslices', list: (limit) => disc.listEndpointSliceForAllNamespaces({ limit }),
        onChange: changed('endpointslices', (c) => tracker.note('endpointslice', c.obj, c.deleted)) }),
      // Nodes only matter in nodeport mode; a pod-mode spoke never waits for (or needs rights on) them.
      ...(opts.endpointMode === 'nodeport' || opts.watchNodes
        ? { nodes: new SupervisedInformer<V1Node>({ ...common, name: 'nodes', path: '/api/v1/nodes', list: (limit) => core.listNode({ limit }),
          onChange: changed('nodes', () => tracker.setNodes(inf.nodes?.list() ?? [])) }) }
        : {}),
      // Only kubernetes.io/tls Secrets, and only with a key to seal them to.
      ...(sealer
        ? { secrets: new SupervisedInformer<V1Secret>({ ...common, name: 'secrets', path: '/api/v1/secrets', fieldSelector: TLS_SECRET_SELECTOR,
          list: (limit) => core.listSecretForAllNamespaces({ fieldSelector: TLS_SECRET_SELECTOR, limit }), onChange: changed('secrets', (c) => tracker.note('secret', c.obj, c.deleted)) }) }
        : {}),
    };
    this.informers = inf;
    await Promise.all(Object.values(this.informers).map((i) => i.start()));
    const ingresses = this.informers.ingresses;
    this.statusWriter = new IngressStatusWriter({
      cluster: opts.cluster, kv: await openExistingBucket(this.nc, STATUS_BUCKET, infoKey(opts.cluster), warn, this.abort.signal), networking: net, events: this.events,
      ingress: (ns, name) => ingresses.get(name, ns),
      log: (l, m, f) => opts.log(l, m, f),
    });
    await this.statusWriter.start();
    this.markDirty();
    this.scheduleHeartbeat(0);
  }

  private info(): ClusterInfo {
    return {
      schema: SCHEMA_VERSION, cluster: this.opts.cluster, zone: this.opts.zone, region: this.opts.region ?? null,
      endpointMode: this.opts.endpointMode, spokeVersion: SPOKE_VERSION, epoch: this.epoch, startedAt: Date.now(),
    };
  }

  /** Follows the connection's status: ready only while connected (a reconnecting spoke publishes nothing). */
  private followNatsStatus(nc: NatsConnection): void {
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type !== 'disconnect' && st.type !== 'reconnect') continue;
        this.natsUp = st.type === 'reconnect';
        this.opts.log(this.natsUp ? 'info' : 'warn', this.natsUp ? 'reconnected to NATS' : 'disconnected from NATS; reconnecting');
      }
    })().catch(() => undefined);
  }

  /** Connected to NATS now (false before the first connection, while reconnecting, and once closed). */
  get natsConnected(): boolean {
    return this.nc !== undefined && !this.nc.isClosed() && this.natsUp;
  }

  /** Ready when every informer has synced and NATS is connected; otherwise why not. */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.natsConnected) reasons.push('not connected to NATS');
    else if (!this.kv) reasons.push('waiting for the state bucket (the hub creates it)');
    if (!this.informers) reasons.push('informers not started');
    for (const [kind, i] of Object.entries(this.informers ?? {})) {
      if (!i.synced) reasons.push(`${kind} not yet listed${i.lastError ? ` (${i.lastError})` : ''}`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  /** True once every informer has listed successfully at least once: only then are deletions swept. */
  get synced(): boolean {
    return this.informers !== undefined && Object.values(this.informers).every((i) => i.synced);
  }

  /** The highest resourceVersion any informer has seen: the revision of the records made now. */
  private revision(): bigint {
    return Object.values(this.informers ?? {}).reduce((m, i) => (i.revision > m ? i.revision : m), 0n);
  }

  /** Each informer's state: synced, failing since when and why, restarts, watches found stalled. */
  informerHealth(): Record<string, InformerHealth> {
    return Object.fromEntries(Object.entries(this.informers ?? {}).map(([k, i]) => [k, i.health()]));
  }

  /** Since when, and why, some informer has been failing to list or watch (the earliest); undefined when none is. */
  sourceUnavailable(): { since: number; reason: string } | undefined {
    const failing = Object.entries(this.informers ?? {}).flatMap(([k, i]) => (i.failingSince === undefined ? [] : [{ k, since: i.failingSince, error: i.lastError }]))
      .sort((a, b) => a.since - b.since);
    const first = failing[0];
    if (!first) return undefined;
    return { since: first.since, reason: `${failing.map((f) => f.k).join(', ')}: ${first.error ?? 'failing'}`.slice(0, 256) };
  }

  /** The records withheld because the hub would refuse them, with the hub's reason. */
  refusals(): Array<{ key: string; reason: string; since: number }> {
    return this.publisher?.refusals() ?? [];
  }

  /** Objects in each informer's cache. */
  cacheSizes(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.informers ?? {}).map(([k, i]) => [k, i.list().length]));
  }

  /** Resolves when no pass is running or pending (a held pass counts as pending). */
  async idle(): Promise<void> {
    while (this.running || this.retryTimer) {
      await (this.running ?? new Promise((r) => setTimeout(r, 10)));
    }
  }

  private markDirty(): void {
    this.dirty = true;
    // Until every kind has been listed the caches are partial (a Service without its EndpointSlices
    // would publish an empty backend): publish nothing, and keep what the bucket already holds.
    if (!this.synced) return;
    if (!this.running && !this.retryTimer && !this.stopped) this.running = this.pass().finally(() => (this.running = undefined));
  }

  /**
   * One level-based pass: recompute the records the noted changes bear on (every record after a
   * relist) and write those that changed; again while dirty.
   */
  private async pass(): Promise<void> {
    while (this.dirty && !this.stopped && this.informers && this.publisher && this.tracker) {
      this.dirty = false;
      const inf = this.informers;
      const held = this.heldKinds();
      if (held.length > 0) {
        this.holdUntilGraceEnds(held);
        return;
      }
      if (this.resetNeeded) {
        this.resetNeeded = false;
        this.fullSync = true;
        this.tracker.reset({
          ingressClasses: inf.ingressClasses.list(), ingresses: inf.ingresses.list(),
          services: inf.services.list(), endpointSlices: inf.endpointSlices.list(), nodes: inf.nodes?.list() ?? [], secrets: inf.secrets?.list() ?? [],
        });
      }
      if (this.reloadNeeded) {
        this.reloadNeeded = false;
        const loaded = await this.publisher.reload().then(() => true, (err: Error) => {
          this.opts.log('warn', 'reading the state bucket failed; retrying', { error: err.message });
          return false;
        });
        if (!loaded) {
          this.reloadNeeded = true;
          this.passAgainIn();
          return;
        }
        this.fullSync = true;
      }
      const changes = this.tracker.take(Date.now(), this.revision().toString());
      const full = this.fullSync;
      this.fullSync = false;
      const timer = this.opts.metrics?.publishDuration.startTimer({ kind: full ? 'full' : 'changes' });
      const res = full ? await this.publisher.sync(this.inPublishOrder(), this.synced) : await this.publisher.apply(changes, this.synced);
      timer?.();
      this.countPass(res);
      this.passes++;
      this.reportRefusals(res);
      if (res.puts + res.deletes > 0) this.opts.log('info', 'published', { puts: res.puts, deletes: res.deletes, records: this.tracker.records.size });
      if (res.failed > 0) {
        this.opts.log('warn', 'publishing failed; retrying', { failed: res.failed, error: res.lastError });
        // What failed is known only as a difference from the bucket: the retry compares everything.
        this.fullSync = true;
        this.passAgainIn();
        return;
      }
    }
  }

  private countPass(res: SyncResult): void {
    const m = this.opts.metrics;
    if (!m) return;
    m.published.inc({ op: 'put' }, res.puts);
    m.published.inc({ op: 'delete' }, res.deletes);
    m.publishErrors.inc(res.failed);
    m.refused.inc(res.refused.length);
  }

  /**
   * Tells of each record withheld: a log line, the counter, and for an Ingress a Warning Event on it
   * (other kinds have no owner to tell but the operator).
   */
  private reportRefusals(res: SyncResult): void {
    for (const key of res.cleared) this.opts.log('info', 'a refused record is accepted again and published', { key });
    for (const r of res.refused) {
      this.refusedRecords++;
      this.opts.log('warn', 'record not published: the hub would refuse it', { key: r.key, fields: r.fields, keptLastPublished: r.kept });
      if (r.record.kind !== 'ingress') continue;
      const ing = this.informers?.ingresses.get(r.record.name, r.record.namespace);
      if (!ing || ing.metadata?.uid !== r.record.source.uid || !this.events) continue;
      const message = `not published to the federation, as the hub would refuse it: ${r.fields.slice(0, 900)}. `
        + (r.kept ? 'Its last published version stays in force.' : 'It is not served.');
      const events = this.events;
      this.eventChain = this.eventChain.then(() => events.ingressEvent(ing, 'Warning', 'RecordRefused', message)).catch((err: unknown) => {
        this.opts.log('warn', 'writing the refusal Event failed', { key: r.key, error: (err as Error).message });
      });
    }
  }

  /** Every record, what Ingresses name before the Ingresses (see publishOrder). */
  private inPublishOrder(): DesiredRecord[] {
    const records = this.tracker?.records;
    if (!records) return [];
    return publishOrder([...records.keys()], () => true).map((k) => records.get(k) as DesiredRecord);
  }

  /** Another pass after `ms` (half a second after a failed read or write). */
  private passAgainIn(ms = 500): void {
    this.dirty = true;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.markDirty();
    }, ms);
  }

  /** Kinds whose last list came back empty while objects were known, within the grace period. */
  private heldKinds(): string[] {
    const now = Date.now();
    const grace = this.opts.emptyListGraceMs ?? 30_000;
    return Object.entries(this.informers ?? {})
      .filter(([, i]) => i.emptyListAt !== undefined && i.list().length === 0 && now - i.emptyListAt < grace)
      .map(([kind]) => kind);
  }

  private holdUntilGraceEnds(kinds: string[]): void {
    const grace = this.opts.emptyListGraceMs ?? 30_000;
    const until = Math.min(...Object.entries(this.informers ?? {})
      .filter(([k]) => kinds.includes(k)).map(([, i]) => (i.emptyListAt ?? Date.now()) + grace));
    this.opts.log('warn', 'a list came back empty although objects were known; holding the published state until it stays so', { kinds, holdMs: until - Date.now() });
    this.passAgainIn(Math.max(0, until - Date.now()) + 1);
  }

  private scheduleHeartbeat(delay: number): void {
    if (this.stopped) return;
    this.heartbeatTimer = setTimeout(() => {
      void this.heartbeat().finally(() => this.scheduleHeartbeat(this.opts.heartbeatIntervalMs ?? 2000));
    }, delay);
  }

  private async heartbeat(): Promise<void> {
    if (!this.kv || !this.publisher) return;
    const source = this.sourceUnavailable();
    const hb: Heartbeat = {
      schema: SCHEMA_VERSION, cluster: this.opts.cluster, epoch: this.epoch, time: Date.now(),
      objectCount: this.publisher.size, digest: this.publisher.digest(), synced: this.synced,
      ...(source ? { sourceUnavailable: source } : {}),
    };
    try {
      await this.kv.put(heartbeatKey(this.opts.cluster), JSON.stringify(hb));
    } catch (err) {
      this.opts.log('warn', 'heartbeat failed', { error: (err as Error).message });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.statusWriter?.close();
    this.publisher?.stop();
    await this.statusWriter?.idle();
    await this.eventChain;
    await Promise.all(Object.values(this.informers ?? {}).map((i) => i.stop()));
    await this.running;
    await this.nc?.drain().catch(() => undefined);
  }
}
