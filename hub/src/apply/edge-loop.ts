import type { EventEmitter } from 'node:events';
import { Backoff, type ObjectRecord } from '@ingressfed/schemas';
import type { HubMetrics } from '../metrics.js';
import type { ApplyInput, ApplyOutcome, EdgeApplier } from './edge.js';
import { ApplyTimeoutError, FencedError, RefusedConfigError, ReloadFailedError, classifyApplyError, isReloadFailure, type ApplyErrorKind } from './errors.js';

/** The hub's desired state: what every edge should serve. */
export interface Desired extends ApplyInput {
  /** The records the model was merged from (quarantined keys at their last good version). */
  records: ReadonlyMap<string, ObjectRecord>;
  /** The Ingress records and quarantine it was merged from, as versions (see Hub.statusesChanged). */
  ingressVersion?: string;
  /** When the records last changed (the model may not have caught up yet): a transaction waits until SETTLE_MS after (see deferring). */
  changedAt?: number;
}

export interface EdgeLoopDeps {
  /** The current desired state, or undefined while there is none (not read yet, or not the leader). */
  desired: () => Desired | undefined;
  /** Called when HAProxy refuses a plan: find and quarantine the cause. Resolves when done. */
  onRefused: (loop: EdgeLoop, err: RefusedConfigError) => Promise<void>;
  /** Called after an apply that changed what the edge has live, or its error. */
  onSettled: () => void;
  /** Called when the edge carries a fence above this leader's (see Hub.fenced); resolves when handled. */
  onFenced?: (loop: EdgeLoop, err: FencedError) => Promise<void>;
  metrics: HubMetrics;
  events: EventEmitter;
  log: (level: 'info' | 'warn' | 'error', msg: string, f?: Record<string, unknown>) => void;
  /** Time limit of one apply (default 60 s). */
  applyTimeoutMs?: number;
}

/** How long an edge must go without changes before its idle work (map files, spare backends). */
const IDLE_MS = 5000;

/**
 * A transaction (a reload: seconds at ten thousand backends) waits until the records have not
 * changed for this long, so that a burst of records (a cluster's first listing) goes live in one reload
 * rather than one per part of it; runtime changes do not wait. It waits at most MAX_DEFER_MS.
 */
const SETTLE_MS = 300;
/** Observation times kept per edge while it cannot apply (a long outage must not grow memory without bound). */
const MAX_OBSERVED = 10_000;
const MAX_DEFER_MS = 5000;

/**
 * The level-based loop of one edge: a kick marks it dirty; each pass applies the hub's current
 * desired state, never a queue of changes. Failures are classified: retryable ones back off and try
 * again, a refusal by HAProxy is handed to the hub once (to isolate its cause) and not looped on, and
 * every apply runs under a time limit. Edges are independent: one that fails delays no other.
 */
export class EdgeLoop {
  private running: Promise<void> | undefined;
  private verifying: AbortController | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** The next apply is an idle one. */
  private idle = false;
  /** When an apply last changed something on the edge. */
  private lastChangeAt = 0;
  private dirty = false;
  private retry: NodeJS.Timeout | undefined;
  /** Since when a transaction has been put off while the model settles. */
  private deferredSince: number | undefined;
  /** Whether the last apply found the edge's runtime API unavailable. */
  private runtimeUnavailable = false;
  private settleTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff(250, 8000);
  private stopped = false;
  private prepared = false;
  last: ApplyOutcome | undefined;
  lastAt: number | undefined;
  /** When the last successful apply started: what it planned is at least as new as this. */
  lastStartedAt: number | undefined;
  lastError: string | undefined;
  /** Since when (hub clock) every apply to this edge has failed; undefined after a success. */
  failingSince: number | undefined;
  /** The desired state the edge serves now (its last successful apply). */
  applied: Desired | undefined;
  applies = 0;
  transactions = 0;
  lastReload: { id: string; status: string } | undefined;
  /** Spoke observation times of changes not yet applied to this edge (at most MAX_OBSERVED). */
  readonly observed: number[] = [];
  /** Changes not yet applied beyond MAX_OBSERVED: counted, not timed. */
  private unmeasured = 0;

  constructor(readonly applier: EdgeApplier, private readonly deps: EdgeLoopDeps) {}

  /** Notes a change a spoke observed at `at`, to be timed when it goes live on this edge. */
  observe(at: number): void {
    if (this.observed.length < MAX_OBSERVED) this.observed.push(at);
    else this.unmeasured++;
  }

  /** Changes observed and not yet live on this edge. */
  get pendingChanges(): number {
    return this.observed.length + this.unmeasured;
  }

  get name(): string {
    return this.applier.edge.name;
  }

  get busy(): Promise<void> | undefined {
    return this.running;
  }

  /** A transaction is waiting for the model to settle (what can go live at runtime did). */
  get deferred(): boolean {
    return this.deferredSince !== undefined;
  }

  kick(): void {
    this.dirty = true;
    // A change goes first: a read-back in progress stops.
    this.verifying?.abort();
    if (this.running || this.retry || this.stopped) return;
    this.running = this.run().finally(() => (this.running = undefined));
  }

  /** Runs `fn` with the time limit of one apply; the signal aborts the apply's remaining calls. */
  async withTimeLimit<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const limit = this.deps.applyTimeoutMs ?? 60_000;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new ApplyTimeoutError(this.name, limit)), limit);
    try {
      return await fn(ac.signal);
    } catch (err) {
      throw ac.signal.aborted ? ac.signal.reason : err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Applies while there are changes; between them, reads back a slice of the edge when one is due;
   * once the edge has been idle a while, does the work that waits for it (see ApplyInput.idle).
   */
  private async run(): Promise<void> {
    for (;;) {
      await this.applyWhileDirty();
      if (this.stopped || this.dirty || this.retry) return;
      if (this.applier.idleWorkDue()) this.scheduleIdleWork();
      if (!this.applier.verifyDue()) return;
      const ac = new AbortController();
      this.verifying = ac;
      const drift = await this.applier.verify(ac.signal).catch((err: Error) => {
        if (!ac.signal.aborted) this.deps.log('warn', 'reading the edge back failed', { edge: this.name, error: err.message });
        return [];
      });
      this.verifying = undefined;
      if (drift.length > 0) {
        this.deps.log('warn', 'the edge differs from what the hub set; repairing', { edge: this.name, differs: drift.slice(0, 10), count: drift.length });
        this.deps.metrics.edgeDrift.inc({ edge: this.name }, drift.length);
        this.dirty = true;
      }
      if (!this.dirty) return;
    }
  }

  /** An idle apply once IDLE_MS have passed without a change to the edge (resyncs that change nothing do not count). */
  private scheduleIdleWork(): void {
    if (this.idleTimer) return;
    const wait = Math.max(0, this.lastChangeAt + IDLE_MS - Date.now());
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (Date.now() - this.lastChangeAt < IDLE_MS) {
        this.scheduleIdleWork();
        return;
      }
      this.idle = true;
      this.kick();
    }, wait);
  }

  private async applyWhileDirty(): Promise<void> {
    for (let d = this.deps.desired(); this.dirty && !this.stopped && d; d = this.deps.desired()) {
      this.dirty = false;
      if (this.idle) d = { ...d, idle: true };
      this.idle = false;
      const observed = this.observed.splice(0);
      const unmeasured = this.unmeasured;
      this.unmeasured = 0;
      const startedAt = Date.now();
      const before = { model: this.applied?.model, error: this.lastError };
      try {
        if (!this.prepared) await this.prepare();
        const input = d;
        const defer = this.deferring(input);
        const out = await this.withTimeLimit((signal) => this.applier.reconcile(defer ? { ...input, deferTransaction: true } : input, signal));
        if (out.deferred) {
          this.unmeasured += unmeasured;
          this.putOff(input, out, observed);
          continue;
        }
        this.deferredSince = undefined;
        this.succeeded(d, out, startedAt, observed);
      } catch (err) {
        this.observed.unshift(...observed);
        this.unmeasured += unmeasured;
        const kind = err instanceof ApplyTimeoutError ? 'timeout' : classifyApplyError(err);
        this.failed(err as Error, kind);
        if (err instanceof RefusedConfigError && err.tried) {
          // Terminal for this plan: isolate the cause; the next pass plans without it.
          await this.deps.onRefused(this, err).catch((e: Error) => this.deps.log('error', 'cannot isolate the refused change', { edge: this.name, error: e.message }));
          this.dirty = true;
          continue;
        }
        if (err instanceof FencedError && this.deps.onFenced) await this.deps.onFenced(this, err);
        if (kind !== 'refused') this.scheduleRetry();
        break;
      } finally {
        // Only what an edge has live, or why not, changes statuses: a no-op resync does not.
        if (this.applied?.model !== before.model || this.lastError !== before.error) this.deps.onSettled();
      }
    }
  }

  /** Once per leadership: the API version is checked and transactions a crashed writer left open are deleted. */
  private async prepare(): Promise<void> {
    const n = await this.applier.prepare();
    this.prepared = true;
    if (n > 0) {
      this.deps.metrics.reclaimedTransactions.inc({ edge: this.name }, n);
      this.deps.log('warn', 'deleted transactions left open by an earlier writer', { edge: this.name, count: n });
    }
  }

  leadershipChanged(): void {
    this.prepared = false;
  }

  private succeeded(d: Desired, out: ApplyOutcome, startedAt: number, observed: number[]): void {
    const { metrics, events, log } = this.deps;
    const now = Date.now();
    if (this.failingSince !== undefined) log('info', 'edge applies again', { edge: this.name, failedForMs: now - this.failingSince });
    Object.assign(this, { last: out, lastAt: now, lastStartedAt: startedAt, applied: d, lastError: undefined, failingSince: undefined });
    this.applies++;
    this.backoff.reset();
    const kind = out.transaction ? 'transaction' : out.runtimeChanges + out.mapChanges > 0 ? 'runtime' : 'none';
    metrics.applies.inc({ edge: this.name, kind, result: 'ok' });
    metrics.applyDuration.observe({ edge: this.name, kind }, out.durationMs / 1000);
    if (out.reclaimed > 0) {
      metrics.reclaimedTransactions.inc({ edge: this.name }, out.reclaimed);
      log('warn', 'deleted abandoned transactions to get under the open-transaction limit', { edge: this.name, count: out.reclaimed });
    }
    if (out.runtimeUnavailable && !this.runtimeUnavailable) {
      log('warn', 'the runtime API of the edge does not answer: its changes go live by transaction (one reload each) until it is back', { edge: this.name });
    } else if (!out.runtimeUnavailable && this.runtimeUnavailable) {
      log('info', 'the runtime API of the edge answers again', { edge: this.name });
    }
    this.runtimeUnavailable = out.runtimeUnavailable === true;
    if (out.transaction) {
      this.transactions++;
      metrics.reloads.inc({ edge: this.name });
      if (out.reloadId) this.lastReload = { id: out.reloadId, status: out.reloadStatus ?? 'unknown' };
    }
    if (kind === 'none') return;
    this.lastChangeAt = now;
    // A first listing brings tens of thousands: the labelled child skips the label lookup per value.
    const propagation = metrics.propagation.labels({ edge: this.name });
    for (const at of observed) propagation.observe(Math.max(0, now - at) / 1000);
    log('info', 'edge applied', { edge: this.name, transaction: out.transaction, reloadId: out.reloadId, version: out.version, runtimeChanges: out.runtimeChanges, mapChanges: out.mapChanges, durationMs: out.durationMs, phasesMs: out.phasesMs });
    events.emit('apply', { edge: this.name, kind, version: out.version ?? null, reloadId: out.reloadId ?? null, runtimeChanges: out.runtimeChanges, mapChanges: out.mapChanges, durationMs: out.durationMs });
  }

  /** Whether a transaction for `d` should wait for the model to settle (see SETTLE_MS). */
  private deferring(d: Desired): boolean {
    if (d.changedAt === undefined || Date.now() - d.changedAt >= SETTLE_MS) return false;
    return this.deferredSince === undefined || Date.now() - this.deferredSince < MAX_DEFER_MS;
  }

  /**
   * The transaction was put off: what went live at runtime did, but the edge is not at `d` (its
   * changes stay unobserved and `applied` unchanged); the loop comes back once the model settles.
   */
  private putOff(d: Desired, out: ApplyOutcome, observed: number[]): void {
    this.deferredSince ??= Date.now();
    this.observed.unshift(...observed);
    this.deps.metrics.applies.inc({ edge: this.name, kind: 'deferred', result: 'ok' });
    if (out.runtimeChanges + out.mapChanges > 0) this.lastChangeAt = Date.now();
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.kick();
    }, Math.max(0, (d.changedAt ?? 0) + SETTLE_MS - Date.now()));
  }

  private failed(err: Error, kind: ApplyErrorKind | 'timeout'): void {
    const { metrics, events, log } = this.deps;
    this.lastError = err.message;
    this.failingSince ??= Date.now();
    metrics.applies.inc({ edge: this.name, kind: 'unknown', result: kind === 'refused' ? 'refused' : 'error' });
    metrics.edgeErrors.inc({ edge: this.name });
    if (err instanceof ReloadFailedError || (err instanceof RefusedConfigError && isReloadFailure(err.cause))) metrics.reloadFailures.inc({ edge: this.name });
    log('warn', 'edge apply failed; the edge keeps serving its last configuration', { edge: this.name, kind, error: err.message });
    events.emit('apply', { edge: this.name, kind: 'error', error: err.message });
  }

  private scheduleRetry(): void {
    this.dirty = true;
    const wait = this.backoff.fail();
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, wait);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    await this.running;
  }
}
