import type { EventEmitter } from 'node:events';
import type { ObjectRecord } from '@ingressfed/schemas';
import type { StateIntake } from './intake.js';
import type { HubMetrics } from './metrics.js';

/**
 * `source-unavailable`: heartbeats arrive, but the spoke cannot list or watch its cluster's API
 * server, so its records may be behind the cluster. Like `live` and `stale`, it changes only what is
 * reported: the cluster's last records stay in force.
 */
export type ClusterState = 'live' | 'source-unavailable' | 'stale' | 'expired';

export interface ClusterHealthView {
  name: string;
  state: ClusterState;
  heartbeatAgeMs: number | undefined;
  /** The spoke's clock less the hub's, from its last live heartbeat (nothing of the hub depends on it). */
  clockOffsetMs: number | undefined;
  /** While the spoke reports its source unavailable: for how long (as of now), and why. */
  sourceUnavailable: { forMs: number; reason: string } | undefined;
}

const NO_RECORDS: ReadonlyMap<string, ObjectRecord> = new Map();

export interface ClusterHealthOptions {
  /** A cluster whose heartbeat is older than this is stale (default 15 s); its servers stay. */
  staleAfterMs?: number;
  /** A cluster silent longer than this loses its endpoints (default: never). */
  expireAfterMs?: number;
}

/**
 * Each cluster's state from the age of its last heartbeat, on the hub's clock (never a spoke's).
 * Staleness changes only what is reported; expiry changes what is planned.
 */
export class ClusterHealth {
  private readonly states = new Map<string, ClusterState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intake: StateIntake,
    private readonly opts: ClusterHealthOptions,
    private readonly metrics: HubMetrics,
    private readonly events: EventEmitter,
    private readonly log: (level: 'info' | 'warn', msg: string, f?: Record<string, unknown>) => void,
  ) {}

  list(): ClusterHealthView[] {
    const now = Date.now();
    const source = this.sourceStates(now);
    return this.intake.clusterNames().map((name) => ({
      name, state: this.states.get(name) ?? 'stale', heartbeatAgeMs: this.intake.heartbeatAge(name, now), clockOffsetMs: this.intake.clockOffset(name), sourceUnavailable: source.get(name),
    }));
  }

  /**
   * What each cluster's last heartbeat says of its source. The age is the spoke's own measure at the
   * heartbeat (its `time` less its `since`: one clock) plus the heartbeat's age on the hub's clock.
   */
  private sourceStates(now = Date.now()): Map<string, { forMs: number; reason: string }> {
    const out = new Map<string, { forMs: number; reason: string }>();
    // Snapshots of no records: each cluster's info and heartbeat only.
    for (const snap of this.intake.snapshots(NO_RECORDS)) {
      const hb = snap.heartbeat;
      const src = hb?.sourceUnavailable;
      const age = this.intake.heartbeatAge(snap.name, now);
      if (hb && src && age !== undefined) out.set(snap.name, { forMs: Math.max(0, hb.time - src.since) + age, reason: src.reason });
    }
    return out;
  }

  expired(): Set<string> {
    return new Set([...this.states].filter(([, st]) => st === 'expired').map(([c]) => c));
  }

  /** Recomputes every cluster's state; true when the set of expired clusters changed. */
  evaluate(): boolean {
    const staleAfter = this.opts.staleAfterMs ?? 15_000;
    const expireAfter = this.opts.expireAfterMs;
    const expiredBefore = this.expired();
    const counts = new Map<ClusterState, number>([['live', 0], ['source-unavailable', 0], ['stale', 0], ['expired', 0]]);
    const source = this.sourceStates();
    for (const name of this.intake.clusterNames()) {
      const age = this.intake.heartbeatAge(name);
      // A cluster that never sent a heartbeat is not known to be live (its records may be forged or
      // left over): stale until one arrives. Its records are still merged, as a stale cluster's are.
      const state: ClusterState = age === undefined ? 'stale'
        : age <= staleAfter ? (source.has(name) ? 'source-unavailable' : 'live')
          : expireAfter !== undefined && age > expireAfter ? 'expired' : 'stale';
      const before = this.states.get(name) ?? 'stale';
      if (state !== before) {
        this.log(state === 'live' ? 'info' : 'warn', `cluster ${state}`, { cluster: name, heartbeatAgeMs: age, was: before, ...(source.has(name) ? { source: source.get(name) } : {}) });
        this.events.emit('cluster', { cluster: name, state, was: before });
      }
      this.states.set(name, state);
      counts.set(state, (counts.get(state) ?? 0) + 1);
    }
    for (const [state, n] of counts) this.metrics.clusters.set({ state }, n);
    this.metrics.outOfSync.set(this.intake.clusterNames().filter((c) => this.intake.inSync(c) === false).length);
    const expiredNow = this.expired();
    return expiredNow.size !== expiredBefore.size || [...expiredNow].some((c) => !expiredBefore.has(c));
  }

  /** Re-evaluates often enough to notice staleness within a quarter of `staleAfterMs`. */
  watch(onExpiryChange: () => void): void {
    const every = Math.max(100, Math.min(1000, Math.floor((this.opts.staleAfterMs ?? 15_000) / 4)));
    this.timer = setTimeout(() => {
      if (this.evaluate()) onExpiryChange();
      this.watch(onExpiryChange);
    }, every);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
