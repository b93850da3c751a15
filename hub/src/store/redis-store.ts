import { Redis } from 'ioredis';
import { backendKey, type Backend, type FederatedModel } from '../model/types.js';

/** The model copy: a hash of routes (`host path pathType` → backend) and one of backends (→ endpoints). */
export const MODEL_ROUTES_KEY = 'ingressfed:model:routes';
export const MODEL_BACKENDS_KEY = 'ingressfed:model:backends';
const MODEL_AT_KEY = 'ingressfed:model:at';
/** Fields per command: a full write of a large model goes in slices, never one huge command. */
const SLICE = 500;
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

  /**
   * Brings the model copy from `prev` (what was saved last; undefined: unknown, write it all) to
   * `next`. Only routes and backends that changed are written: unchanged parts are the same objects
   * in both models. Answers false when Redis failed (the next save must then write it all).
   */
  async saveModel(prev: FederatedModel | undefined, next: FederatedModel): Promise<boolean> {
    const routeField = (r: FederatedModel['routes'][number]): string => `${r.host} ${r.path} ${r.pathType}`;
    const routes = new Map(next.routes.map((r) => [routeField(r), backendKey(r.backend)]));
    const backends = new Map<string, Backend>(next.backends.map((b) => [backendKey(b.id), b]));
    const setRoutes: string[] = [];
    const setBackends: string[] = [];
    let delRoutes: string[] = [];
    let delBackends: string[] = [];
    if (!prev) {
      delRoutes = ['*'];
      for (const [f, v] of routes) setRoutes.push(f, v);
      for (const [k, b] of backends) setBackends.push(k, JSON.stringify(b.endpoints));
    } else {
      if (prev.routes !== next.routes) {
        const before = new Map(prev.routes.map((r) => [routeField(r), backendKey(r.backend)]));
        for (const [f, v] of routes) if (before.get(f) !== v) setRoutes.push(f, v);
        delRoutes = [...before.keys()].filter((f) => !routes.has(f));
      }
      if (prev.backends !== next.backends) {
        const before = new Map<string, Backend>(prev.backends.map((b) => [backendKey(b.id), b]));
        for (const [k, b] of backends) if (before.get(k) !== b) setBackends.push(k, JSON.stringify(b.endpoints));
        delBackends = [...before.keys()].filter((k) => !backends.has(k));
      }
    }
    try {
      if (delRoutes[0] === '*') await this.redis.del(MODEL_ROUTES_KEY, MODEL_BACKENDS_KEY);
      else {
        for (let i = 0; i < delRoutes.length; i += SLICE) await this.redis.hdel(MODEL_ROUTES_KEY, ...delRoutes.slice(i, i + SLICE));
        for (let i = 0; i < delBackends.length; i += SLICE) await this.redis.hdel(MODEL_BACKENDS_KEY, ...delBackends.slice(i, i + SLICE));
      }
      for (let i = 0; i < setRoutes.length; i += 2 * SLICE) await this.redis.hset(MODEL_ROUTES_KEY, ...setRoutes.slice(i, i + 2 * SLICE));
      for (let i = 0; i < setBackends.length; i += 2 * SLICE) await this.redis.hset(MODEL_BACKENDS_KEY, ...setBackends.slice(i, i + 2 * SLICE));
      await this.redis.set(MODEL_AT_KEY, String(Date.now()));
      this.writes++;
      this.lastError = undefined;
      return true;
    } catch (err) {
      this.lastError = (err as Error).message;
      return false;
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
