import type { KV } from '@nats-io/kv';
import type { Endpoint } from './model/types.js';

/** A cluster or zone an operator drained, and since when. */
export interface Drain {
  kind: 'cluster' | 'zone';
  name: string;
  since: number;
}

const keyOf = (kind: Drain['kind'], name: string): string => `${kind}.${name}`;

/**
 * The drains an operator asked for (clusters or zones), kept in the hub's own NATS bucket: every
 * replica watches it, every later leader honours it, and losing Redis loses none of them. A drain
 * takes effect in memory before it is stored, so an apply that starts after the request plans with it.
 */
export class DrainBook {
  private readonly drains = new Map<string, Drain>();
  private kv: KV | undefined;
  private stopWatch: () => void = () => undefined;

  constructor(private readonly log: (level: 'warn', msg: string, f?: Record<string, unknown>) => void) {}

  /** Reads the drains in `kv` and follows its changes (made by any replica); `onChange` is told of each. */
  async open(kv: KV, onChange: () => void): Promise<void> {
    this.kv = kv;
    const iter = await kv.watch();
    this.stopWatch = () => iter.stop();
    const read = new Promise<void>((resolve) => {
      void (async () => {
        if ((await kv.status()).values === 0) resolve();
        for await (const e of iter) {
          if (e.operation === 'PUT') this.take(e.key, e.string());
          else this.drains.delete(e.key);
          if (e.delta === 0) resolve();
          if (e.isUpdate) onChange();
        }
      })().catch((err: Error) => this.log('warn', 'the drains watch stopped', { error: err.message }));
    });
    await read;
  }

  private take(key: string, json: string): void {
    try {
      const d = JSON.parse(json) as Drain;
      if ((d.kind === 'cluster' || d.kind === 'zone') && typeof d.name === 'string' && typeof d.since === 'number') this.drains.set(key, d);
    } catch {
      this.log('warn', 'an unreadable drain in the drains bucket is ignored', { key });
    }
  }

  get size(): number {
    return this.drains.size;
  }

  list(): Drain[] {
    return [...this.drains.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  }

  async add(kind: Drain['kind'], name: string): Promise<Drain> {
    const key = keyOf(kind, name);
    const existing = this.drains.get(key);
    const d = existing ?? { kind, name, since: Date.now() };
    this.drains.set(key, d);
    try {
      await this.kv?.put(key, JSON.stringify(d));
    } catch (err) {
      if (!existing) this.drains.delete(key);
      throw err;
    }
    return d;
  }

  /** True when there was such a drain. */
  async remove(kind: Drain['kind'], name: string): Promise<boolean> {
    const key = keyOf(kind, name);
    const had = this.drains.get(key);
    this.drains.delete(key);
    try {
      await this.kv?.delete(key);
    } catch (err) {
      if (had) this.drains.set(key, had);
      throw err;
    }
    return had !== undefined;
  }

  stop(): void {
    this.stopWatch();
  }

  /** Whether an endpoint is drained; undefined when nothing is. */
  predicate(): ((e: Endpoint) => boolean) | undefined {
    if (this.drains.size === 0) return undefined;
    const clusters = new Set(this.list().filter((d) => d.kind === 'cluster').map((d) => d.name));
    const zones = new Set(this.list().filter((d) => d.kind === 'zone').map((d) => d.name));
    return (e) => clusters.has(e.cluster) || (e.zone !== null && zones.has(e.zone));
  }
}
