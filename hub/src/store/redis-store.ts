import { Redis } from 'ioredis';

const MODEL_KEY = 'ingressfed:model';
const DRAINS_KEY = 'ingressfed:drains';

export interface Drain {
  kind: 'cluster' | 'zone';
  name: string;
  since: number;
}

/**
 * The hub's Redis: fails fast (no offline queue, bounded command time) so that nothing queued while
 * Redis was away is replayed later. Redis holds a copy of the merged model for other replicas;
 * losing it loses nothing, since the model is rebuilt from the state bucket.
 */
export class RedisStore {
  readonly redis: Redis;
  lastError: string | undefined;
  writes = 0;

  constructor(url: string) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false, commandTimeout: 1000, maxRetriesPerRequest: 1, lazyConnect: true,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.redis.on('error', (err: Error) => (this.lastError = err.message));
  }

  async connect(): Promise<void> {
    try {
      await this.redis.connect();
    } catch (err) {
      this.lastError = (err as Error).message; // reconnects in the background
    }
  }

  async saveModel(model: unknown): Promise<void> {
    try {
      await this.redis.set(MODEL_KEY, JSON.stringify(model));
      this.writes++;
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }


  /** Drains requested through any hub replica; throws when Redis cannot answer. */
  async loadDrains(): Promise<Drain[]> {
    const all = await this.redis.hgetall(DRAINS_KEY);
    return Object.values(all).map((v) => JSON.parse(v) as Drain);
  }

  async saveDrain(d: Drain): Promise<void> {
    await this.redis.hset(DRAINS_KEY, `${d.kind}/${d.name}`, JSON.stringify(d));
  }

  async deleteDrain(kind: string, name: string): Promise<void> {
    await this.redis.hdel(DRAINS_KEY, `${kind}/${name}`);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
