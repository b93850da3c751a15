import type { Endpoint } from './model/types.js';
import type { Drain, RedisStore } from './store/redis-store.js';

export type { Drain } from './store/redis-store.js';

const keyOf = (kind: Drain['kind'], name: string): string => `${kind}/${name}`;

/**
 * The drains an operator asked for (clusters or zones), kept in Redis when there is one so that every
 * replica and every later leader honours them. A drain takes effect in memory before it is stored,
 * so an apply that starts after the request plans with it.
 */
export class DrainBook {
  private drains = new Map<string, Drain>();

  constructor(
    private readonly redis: RedisStore | undefined,
    private readonly log: (level: 'warn', msg: string, f?: Record<string, unknown>) => void,
  ) {}

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
      await this.redis?.saveDrain(d);
    } catch (err) {
      if (!existing) this.drains.delete(key);
      throw err;
    }
    return d;
  }

  /** True when there was such a drain. */
  async remove(kind: Drain['kind'], name: string): Promise<boolean> {
    const had = this.drains.delete(keyOf(kind, name));
    await this.redis?.deleteDrain(kind, name);
    return had;
  }

  /** Re-reads the drains from Redis; true when the set changed. A Redis failure keeps the known ones. */
  async refresh(): Promise<boolean> {
    if (!this.redis) return false;
    try {
      const next = new Map((await this.redis.loadDrains()).map((d) => [keyOf(d.kind, d.name), d]));
      const changed = [...next.keys()].sort().join('\n') !== [...this.drains.keys()].sort().join('\n');
      this.drains = next;
      return changed;
    } catch (err) {
      this.log('warn', 'cannot read drains from Redis; keeping the known ones', { error: (err as Error).message });
      return false;
    }
  }

  /** Whether an endpoint is drained; undefined when nothing is. */
  predicate(): ((e: Endpoint) => boolean) | undefined {
    if (this.drains.size === 0) return undefined;
    const clusters = new Set(this.list().filter((d) => d.kind === 'cluster').map((d) => d.name));
    const zones = new Set(this.list().filter((d) => d.kind === 'zone').map((d) => d.name));
    return (e) => clusters.has(e.cluster) || (e.zone !== null && zones.has(e.zone));
  }
}
