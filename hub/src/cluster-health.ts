import type { EventEmitter } from 'node:events';
import type { StateIntake } from './intake.js';
import type { HubMetrics } from './metrics.js';

export type ClusterState = 'live' | 'stale' | 'expired';

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

  list(): Array<{ name: string; state: ClusterState; heartbeatAgeMs: number | undefined }> {
    return this.intake.clusterNames().map((name) => ({ name, state: this.states.get(name) ?? 'stale', heartbeatAgeMs: this.intake.heartbeatAge(name) }));
  }

  expired(): Set<string> {
    return new Set([...this.states].filter(([, st]) => st === 'expired').map(([c]) => c));
  }

  /** Recomputes every cluster's state; true when the set of expired clusters changed. */
  evaluate(): boolean {
    const staleAfter = this.opts.staleAfterMs ?? 15_000;
    const expireAfter = this.opts.expireAfterMs;
    const expiredBefore = this.expired();
    const counts = new Map<ClusterState, number>([['live', 0], ['stale', 0], ['expired', 0]]);
    for (const name of this.intake.clusterNames()) {
      const age = this.intake.heartbeatAge(name);
      // A cluster that never sent a heartbeat is not known to be live (its records may be forged or
      // left over): stale until one arrives. Its records are still merged, as a stale cluster's are.
      const state: ClusterState = age === undefined ? 'stale' : age <= staleAfter ? 'live'
        : expireAfter !== undefined && age > expireAfter ? 'expired' : 'stale';
      const before = this.states.get(name) ?? 'stale';
      if (state !== before) {
        this.log(state === 'live' ? 'info' : 'warn', `cluster ${state}`, { cluster: name, heartbeatAgeMs: age, was: before });
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
