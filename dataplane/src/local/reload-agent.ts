import type { CheckResult } from './haproxy-process.js';
import type { Reload } from './model.js';

export interface ReloadAgentOptions {
  /** Minimum time between two reload starts; changes within it share one reload (dataplaneapi's reload_delay). */
  delayMs: number;
  /** Performs the reload and reports HAProxy's verdict. */
  run: () => Promise<CheckResult>;
  /** Called before the reload runs; the value is handed back to onSucceeded or onFailed. */
  snapshot: () => unknown;
  onSucceeded: (snapshot: unknown) => void;
  onFailed: (snapshot: unknown, output: string) => void;
  now?: () => Date;
}

const RETAINED = 200;

/**
 * Schedules and runs HAProxy reloads like dataplaneapi's reload agent: every change asks for a
 * reload; requests made before the pending one starts share its id; a reload starts at most once
 * per `delayMs`. Unlike a fixed ticker it starts at once when the previous reload is older than
 * `delayMs`, which keeps a lone change fast without allowing more reloads.
 */
export class ReloadAgent {
  private counter = 0;
  private pending: { id: string; timer: NodeJS.Timeout; done: Promise<Reload> ; resolve: (r: Reload) => void } | undefined;
  private readonly records = new Map<string, Reload>();
  private lastStart = 0;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ReloadAgentOptions) {}

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private nextId(): string {
    const d = this.now();
    const day = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
    return `${day}-${++this.counter}`;
  }

  /** Asks for a reload and returns its id (the pending one if a reload is already scheduled). */
  schedule(): string {
    if (this.pending) return this.pending.id;
    const id = this.nextId();
    this.remember({ id, status: 'in_progress', reload_timestamp: Math.floor(this.now().getTime() / 1000) });
    let resolve!: (r: Reload) => void;
    const done = new Promise<Reload>((r) => (resolve = r));
    const wait = Math.max(0, this.lastStart + this.opts.delayMs - Date.now());
    const timer = setTimeout(() => void this.fire(), wait);
    this.pending = { id, timer, done, resolve };
    return id;
  }

  /** Runs the pending reload now (or a new one) and resolves with its outcome. */
  async forceNow(): Promise<Reload> {
    const id = this.schedule();
    const p = this.pending;
    if (p && p.id === id) {
      clearTimeout(p.timer);
      void this.fire();
      return p.done;
    }
    return this.records.get(id) as Reload;
  }

  /** Waits for the pending reload, if any. */
  async idle(): Promise<void> {
    if (this.pending) await this.pending.done;
    await this.running;
  }

  private async fire(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const run = this.running.then(async () => {
      this.lastStart = Date.now();
      const snap = this.opts.snapshot();
      let result: CheckResult;
      try {
        result = await this.opts.run();
      } catch (err) {
        result = { ok: false, output: (err as Error).message };
      }
      const rec = this.records.get(p.id) as Reload;
      rec.status = result.ok ? 'succeeded' : 'failed';
      rec.response = result.output;
      if (result.ok) this.opts.onSucceeded(snap);
      else this.opts.onFailed(snap, result.output);
      p.resolve({ ...rec });
    });
    this.running = run.catch(() => undefined);
    await run;
  }

  private remember(r: Reload): void {
    this.records.set(r.id as string, r);
    if (this.records.size > RETAINED) {
      for (const [id, rec] of this.records) {
        if (this.records.size <= RETAINED) break;
        if (rec.status !== 'failed') this.records.delete(id);
      }
    }
  }

  get(id: string): Reload | undefined {
    const r = this.records.get(id);
    if (r) return { ...r };
    const m = /^\d{4}-\d{2}-\d{2}-(\d+)$/.exec(id);
    // dataplaneapi keeps only failures and recent reloads; an older id it issued is reported succeeded.
    if (m && Number(m[1]) <= this.counter) return { id, status: 'succeeded' };
    return undefined;
  }

  list(): Reload[] {
    return [...this.records.values()].map((r) => ({ ...r }));
  }
}
