import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Long work done in short turns of the event loop, so that the lease, heartbeats, the API and the
 * other edges stay live while ten thousand of something are processed. Call `pause()` between
 * items: it yields once the current turn has lasted `budgetMs`, and costs a clock read otherwise.
 * The budget is kept well under the ~50 ms a turn may take, because several such loops (merge,
 * plan, statuses) and I/O callbacks can share one iteration of the event loop.
 */
export class Turns {
  private startedAt = performance.now();

  constructor(private readonly budgetMs = TURN_BUDGET_MS) {}

  /** Whether this turn has used its budget. */
  get due(): boolean {
    return performance.now() - this.startedAt >= this.budgetMs;
  }

  /** Yields the event loop if this turn has used its budget. */
  async pause(): Promise<void> {
    if (!this.due) return;
    await nextTurn();
    this.startedAt = performance.now();
  }
}

/** Milliseconds of work per turn before yielding. */
export const TURN_BUDGET_MS = 5;

/**
 * Work written once as a generator that yields between items can run at once (`atOnce`) or in
 * short turns of the event loop (`inTurns`).
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs `steps` to the end in this turn. */
export function atOnce<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Runs `steps` to the end, yielding the event loop whenever `turns` says the turn is used. */
export async function inTurns<T>(steps: Steps<T>, turns = new Turns()): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (turns.due) await turns.pause();
  }
}
