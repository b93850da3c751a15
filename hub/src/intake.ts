import type { KV, KvWatchEntry } from '@nats-io/kv';
import { compareRevisions, decodeStateEntry, isObjectKey, type ClusterInfo, type DecodedEntry, type Heartbeat, type IngressRecord, type ObjectRecord, type SecretRecord } from '@ingressfed/schemas';
import type { ClusterSnapshot } from './model/types.js';
import { KeyDigest, revisionOf } from './digest.js';
import { HeldRecords } from './held.js';
import { Turns } from './turns.js';

/**
 * A spoke clock further than this from the hub's is reported, and its observation times are moved
 * onto the hub's clock (nearer, the heartbeat's transit would add more error than it removes).
 */
export const CLOCK_TOLERANCE_MS = 2000;

export interface Refusal {
  key: string;
  cluster: string | undefined;
  reason: string;
  at: number;
}

interface ClusterState {
  info: ClusterInfo | undefined;
  heartbeat: Heartbeat | undefined;
  /** Hub clock (ms) when the last heartbeat arrived: staleness is judged on it, never on spoke clocks. */
  heartbeatAt: number | undefined;
  /** The spoke's clock less the hub's, as its last live heartbeat showed it (less the heartbeat's transit). */
  clockOffsetMs: number | undefined;
  records: Map<string, ObjectRecord>;
  /** The object keys received (valid or not), to compare with the spoke's heartbeat digest. */
  keys: KeyDigest;
  /** Whether the keys match the spoke's digest (undefined before a heartbeat). */
  inSync: boolean | undefined;
}

export interface IntakeHooks {
  /** Object records or cluster info changed (see takeChanges). */
  onChange: () => void;
  /** A heartbeat arrived: only staleness can have changed. */
  onHeartbeat?: () => void;
  /** Called with the spoke's observation time of every object record that arrives after start. */
  onObserved?: (observedAt: number) => void;
  log: (level: 'info' | 'warn', msg: string, f?: Record<string, unknown>) => void;
  /** The clusters of the federation, when the hub is told them: any other cluster's entries are refused. */
  knownClusters?: ReadonlySet<string>;
}

/**
 * Reads the state bucket: every key is decoded and validated again (spokes are untrusted); a refused
 * key is recorded with its reason and changes nothing else. `initialized` turns true once every value
 * present when the watch started has been read (startup gating). The keys of object records that
 * changed are collected until taken, so the hub's merge works on what changed only.
 */
export class StateIntake {
  private readonly clusters = new Map<string, ClusterState>();
  private changes = new Set<string>();
  readonly refused = new Map<string, Refusal>();
  /** Moves with every change of an Ingress record (statuses depend on nothing else of the records but Secrets). */
  ingressVersion = 0;
  /** Moves with every change of a Secret record (TLS refusals in statuses depend on them). */
  secretVersion = 0;
  /** The state bucket's revision of the last entry applied: every write up to it has been judged. */
  position = 0;
  /** When an object record or a cluster's info last changed (heartbeats do not count). */
  lastChangeAt = 0;
  initialized = false;
  private stopped = false;
  readonly held: HeldRecords;

  constructor(private readonly hooks: IntakeHooks) {
    this.held = new HeldRecords(hooks.log);
  }

  /**
   * Reads the state bucket `kv`, after the records held over older ones in `heldKv` (kept there across
   * restarts; without it, only in memory).
   */
  async start(kv: KV, heldKv?: KV): Promise<void> {
    this.kv = kv;
    const held = heldKv ? await this.held.open(heldKv) : 0;
    if (held > 0) this.hooks.log('info', 'held records read', { held });
    const status = await kv.status();
    const iter = await kv.watch({ key: '>' });
    if (status.values === 0) this.markInitialized();
    void (async () => {
      // Entries already received are handed over without a turn of the event loop in between: a
      // burst (every cluster's first listing) is decoded in short turns instead.
      const turns = new Turns();
      for await (const e of iter) {
        if (this.stopped) break;
        if (turns.due) await turns.pause();
        const heartbeat = this.apply(e);
        if (!this.initialized && (e.isUpdate || e.delta === 0)) this.markInitialized();
        if (heartbeat) this.hooks.onHeartbeat?.();
        else this.hooks.onChange();
      }
    })();
    this.stopWatch = () => iter.stop();
  }

  private stopWatch: () => void = () => undefined;
  private kv: KV | undefined;

  /**
   * Compares the records held with the bucket's keys: a record whose key the bucket no longer has
   * (a change the watch never delivered: a stream purged under it) goes, as if deleted. Answers how
   * many went; each is logged.
   */
  async audit(): Promise<number> {
    if (!this.kv) return 0;
    // Only records held before the listing starts are judged: a key written during it may be missing from it.
    const held = new Map([...this.clusters.values()].flatMap((c) => [...c.records]));
    const present = new Set<string>();
    for await (const key of await this.kv.keys()) present.add(key);
    const ghosts = [...held].filter(([k, r]) => !present.has(k) && this.record(k) === r).map(([k]) => k);
    for (const key of ghosts) {
      this.hooks.log('warn', 'record dropped: its key is no longer in the state bucket (a change the watch did not deliver)', { key: key.slice(0, 200) });
      this.deleted(key);
    }
    if (ghosts.length > 0) this.hooks.onChange();
    return ghosts.length;
  }

  private markInitialized(): void {
    this.initialized = true;
    this.hooks.log('info', 'state bucket read', { clusters: this.clusters.size, refused: this.refused.size });
    this.hooks.onChange();
  }

  private cluster(name: string): ClusterState {
    let c = this.clusters.get(name);
    if (!c) {
      c = { info: undefined, heartbeat: undefined, heartbeatAt: undefined, clockOffsetMs: undefined, records: new Map(), keys: new KeyDigest(), inSync: undefined };
      this.clusters.set(name, c);
    }
    return c;
  }

  /** Applies one entry; answers true when it was a heartbeat. */
  private apply(e: KvWatchEntry): boolean {
    this.position = e.revision;
    const key = e.key;
    if (e.operation !== 'PUT') {
      this.deleted(key);
      return false;
    }
    const decoded = decodeStateEntry(key, e.value);
    const d = decoded.ok && this.hooks.knownClusters && !this.hooks.knownClusters.has(entryCluster(decoded.entry))
      ? { ok: false as const, cluster: entryCluster(decoded.entry), reason: `cluster '${entryCluster(decoded.entry)}' is not one of the hub's clusters (configuration: clusters)` }
      : decoded;
    if (!d.ok) {
      // A refused object record still counts among the cluster's keys (its spoke published it).
      if (d.cluster !== undefined && this.clusters.has(d.cluster) && isObjectKey(key)) this.clusters.get(d.cluster)?.keys.set(key, revisionOf(e.value));
      this.refuse(key, d.cluster, d.reason);
      return false;
    }
    this.refused.delete(key);
    const entry = d.entry;
    if (entry.type !== 'heartbeat') this.lastChangeAt = Date.now();
    if (entry.type === 'info') this.cluster(entry.cluster).info = entry.info;
    else if (entry.type === 'heartbeat') {
      const c = this.cluster(entry.cluster);
      c.heartbeat = entry.heartbeat;
      c.heartbeatAt = Date.now();
      // A heartbeat read at start may be old: only one that arrives live measures the clock.
      if (e.isUpdate) this.measureClock(entry.cluster, c, entry.heartbeat.time - c.heartbeatAt);
      this.compareDigest(entry.cluster, c);
      return true;
    } else {
      const c = this.cluster(entry.key.cluster);
      c.keys.set(key, entry.record.revision);
      const older = this.olderThanAccepted(key, c, entry.record);
      if (older) {
        this.refuse(key, entry.key.cluster, older);
        return false;
      }
      this.held.release(key);
      this.setRecord(key, c, entry.record);
      if (e.isUpdate) this.hooks.onObserved?.(entry.record.observedAt - skewOf(c));
    }
    return false;
  }

  private setRecord(key: string, c: ClusterState, record: ObjectRecord): void {
    c.records.set(key, record);
    this.changes.add(key);
    if (record.kind === 'ingress') this.ingressVersion++;
    if (record.kind === 'secret') this.secretVersion++;
  }

  /** A refused entry leaves the last valid record of its key in place (nothing lost, nothing else affected). */
  private refuse(key: string, cluster: string | undefined, reason: string): void {
    if (!this.refused.has(key)) this.hooks.log('warn', 'record refused', { key: key.slice(0, 200), reason });
    this.refused.set(key, { key, cluster, reason, at: Date.now() });
  }

  /**
   * Why a record may not replace the one accepted for its key: it is older (a replay, a stale
   * writer). The accepted record is then held, so that it survives a restart of the hub; after a
   * restart the held record is what the bucket's older one is compared with, and taken back.
   */
  private olderThanAccepted(key: string, c: ClusterState, record: ObjectRecord): string | undefined {
    const accepted = c.records.get(key);
    const held = accepted ? undefined : this.held.get(key);
    const floor = accepted?.revision ?? held?.revision;
    if (floor === undefined || compareRevisions(record.revision, floor) >= 0) return undefined;
    if (accepted) this.held.hold(key, { revision: accepted.revision, record: accepted, at: Date.now() });
    else if (held?.record) this.setRecord(key, c, held.record);
    return `revision ${record.revision} is older than revision ${floor} already ${held?.record === null ? 'deleted' : 'accepted'} for this key (a replayed or stale record); the newer one stays`;
  }

  /** A deleted key: its record goes, and its revision is remembered, so an older write cannot bring it back. */
  private deleted(key: string): void {
    this.refused.delete(key);
    const c = this.clusters.get(key.split('.')[0] ?? '');
    c?.keys.delete(key);
    const gone = c?.records.get(key);
    if (!gone || !c?.records.delete(key)) return;
    this.held.hold(key, { revision: gone.revision, record: null, at: Date.now() });
    this.changes.add(key);
    this.lastChangeAt = Date.now();
    if (gone.kind === 'ingress') this.ingressVersion++;
    if (gone.kind === 'secret') this.secretVersion++;
  }

  /** Keeps the spoke clock's offset; reports it when it goes beyond CLOCK_TOLERANCE_MS, and when it comes back. */
  private measureClock(cluster: string, c: ClusterState, offsetMs: number): void {
    const was = skewOf(c) !== 0;
    c.clockOffsetMs = offsetMs;
    const now = skewOf(c) !== 0;
    if (was === now) return;
    this.hooks.log(now ? 'warn' : 'info', now
      ? 'the spoke\'s clock is off the hub\'s: ages are measured on the hub\'s clock, and the spoke\'s observation times are corrected by the offset'
      : 'the spoke\'s clock agrees with the hub\'s again', { cluster, clockOffsetMs: offsetMs });
  }

  /** The spoke's clock less the hub's (ms), from its last live heartbeat; undefined before one. */
  clockOffset(cluster: string): number | undefined {
    return this.clusters.get(cluster)?.clockOffsetMs;
  }

  /** Compares the cluster's keys with its heartbeat's digest; a lasting difference is reported once. */
  private compareDigest(cluster: string, c: ClusterState): void {
    if (!c.heartbeat) return;
    const inSync = c.keys.check(c.heartbeat.digest);
    if (c.inSync !== inSync && (inSync === false || c.inSync === false)) {
      this.hooks.log(inSync ? 'info' : 'warn', inSync
        ? 'cluster records in the state bucket match its spoke again'
        : 'cluster records in the state bucket differ from what its spoke published (heartbeat digest): changed by someone else, or not repaired', { cluster });
    }
    c.inSync = inSync;
  }

  /** Whether a cluster's keys match its spoke's heartbeat digest (undefined before a heartbeat). */
  inSync(cluster: string): boolean | undefined {
    return this.clusters.get(cluster)?.inSync;
  }

  /** The keys of object records changed (set or deleted) since the last call. */
  takeChanges(): Set<string> {
    const out = this.changes;
    this.changes = new Set();
    return out;
  }

  /** The record of a key as last received. */
  record(key: string): ObjectRecord | undefined {
    return this.clusters.get(key.split('.')[0] ?? '')?.records.get(key);
  }

  /** The zone a cluster reports, if it sent its info. */
  zone(cluster: string): string | null {
    return this.clusters.get(cluster)?.info?.zone ?? null;
  }

  /** Every Ingress record as received. */
  *ingresses(): Generator<IngressRecord> {
    for (const c of this.clusters.values()) for (const r of c.records.values()) if (r.kind === 'ingress') yield r;
  }

  /** Every TLS Secret record as received. */
  *secrets(): Generator<SecretRecord> {
    for (const c of this.clusters.values()) for (const r of c.records.values()) if (r.kind === 'secret') yield r;
  }

  /** One snapshot per known cluster, of the given records (default: as received). */
  snapshots(records?: ReadonlyMap<string, ObjectRecord>): ClusterSnapshot[] {
    const byCluster = new Map<string, ObjectRecord[]>();
    for (const r of records?.values() ?? []) {
      const list = byCluster.get(r.cluster);
      if (list) list.push(r);
      else byCluster.set(r.cluster, [r]);
    }
    return [...this.clusters.entries()].map(([name, c]) => {
      const recs = records ? byCluster.get(name) ?? [] : [...c.records.values()];
      return {
        name,
        info: c.info,
        heartbeat: c.heartbeat,
        ingressClasses: recs.filter((r) => r.kind === 'ingressclass'),
        ingresses: recs.filter((r) => r.kind === 'ingress'),
        services: recs.filter((r) => r.kind === 'service'),
        endpoints: recs.filter((r) => r.kind === 'endpoints'),
      } as ClusterSnapshot;
    });
  }

  clusterNames(): string[] {
    return [...this.clusters.keys()].sort();
  }

  heartbeatAge(cluster: string, now = Date.now()): number | undefined {
    const at = this.clusters.get(cluster)?.heartbeatAt;
    return at === undefined ? undefined : now - at;
  }

  stop(): void {
    this.stopped = true;
    this.held.stop();
    this.stopWatch();
  }
}

/** The offset to take off a spoke's times to put them on the hub's clock: 0 within CLOCK_TOLERANCE_MS. */
function skewOf(c: ClusterState): number {
  const off = c.clockOffsetMs ?? 0;
  return Math.abs(off) > CLOCK_TOLERANCE_MS ? off : 0;
}

function entryCluster(e: DecodedEntry): string {
  return e.type === 'object' ? e.key.cluster : e.cluster;
}

