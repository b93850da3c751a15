import type { KV } from '@nats-io/kv';
import { Backoff, type ObjectRecord } from '@ingressfed/schemas';

/**
 * What the hub holds for a key although the state bucket says otherwise: the record it accepted when
 * an older one was written over it (a replay, a stale writer), or a tombstone (`record: null`) of a
 * deleted key, whose revision a later write must reach.
 */
export interface HeldEntry {
  revision: string;
  record: ObjectRecord | null;
  /** Hub clock (ms) when it was held; tombstones are forgotten after TOMBSTONE_TTL_MS. */
  at: number;
}

/** How long a deleted key's revision is remembered (the held bucket's TTL too). */
export const TOMBSTONE_TTL_MS = 24 * 3600_000;

/**
 * The held entries, kept in a bucket only the hub may write, so that the last valid record of a key
 * survives a hub restart even when the state bucket holds an older one. Writes are proportional to
 * refusals and deletions, never to the fleet; a failed write is retried until it succeeds (latest
 * value per key wins), so nothing held is lost while NATS is away.
 */
export class HeldRecords {
  private readonly entries = new Map<string, HeldEntry>();
  /** Key → entry to write, or null to delete; written by one loop. */
  private readonly pending = new Map<string, HeldEntry | null>();
  private writing = false;
  private readonly backoff = new Backoff(200, 5000);
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  lastError: string | undefined;
  private kv: KV | undefined;

  constructor(private readonly log: (level: 'info' | 'warn', msg: string, f?: Record<string, unknown>) => void) {}

  /** Keeps the entries in `kv` from now on, after reading what it held before a restart. */
  async open(kv: KV): Promise<number> {
    this.kv = kv;
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      if (e?.operation !== 'PUT') continue;
      try {
        this.entries.set(key, e.json<HeldEntry>());
      } catch {
        // Written by the hub alone; an unreadable entry is dropped (the spoke's own repair still applies).
      }
    }
    return this.entries.size;
  }

  get(key: string, now = Date.now()): HeldEntry | undefined {
    const e = this.entries.get(key);
    if (e && e.record === null && now - e.at > TOMBSTONE_TTL_MS) {
      this.release(key);
      return undefined;
    }
    return e;
  }

  get size(): number {
    return this.entries.size;
  }

  hold(key: string, entry: HeldEntry): void {
    this.entries.set(key, entry);
    this.queue(key, entry);
  }

  release(key: string): void {
    if (!this.entries.delete(key)) return;
    this.queue(key, null);
  }

  /** Resolves once every pending write is done (tests). */
  async flushed(): Promise<void> {
    while ((this.pending.size > 0 || this.writing) && !this.stopped) await new Promise((r) => setTimeout(r, 10));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private queue(key: string, entry: HeldEntry | null): void {
    if (!this.kv) return;
    this.pending.set(key, entry);
    if (!this.writing && !this.timer) void this.write();
  }

  private async write(): Promise<void> {
    const kv = this.kv;
    if (!kv) return;
    this.writing = true;
    try {
      for (const [key, entry] of this.pending) {
        if (this.stopped) return;
        if (entry) await kv.put(key, JSON.stringify(entry));
        else await kv.delete(key);
        // A newer value queued meanwhile stays pending.
        if (this.pending.get(key) === entry) this.pending.delete(key);
      }
      this.backoff.reset();
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
      const wait = this.backoff.fail();
      this.log('warn', 'writing held records failed; retrying', { error: this.lastError, pending: this.pending.size, retryInMs: wait });
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.write();
      }, wait);
    } finally {
      this.writing = false;
    }
    if (this.pending.size > 0 && !this.timer && !this.stopped) void this.write();
  }
}
