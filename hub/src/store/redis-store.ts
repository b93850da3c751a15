import { Redis } from 'ioredis';
import type { ClientTls } from '@ingressfed/schemas/nats';
import { backendKey, type FederatedModel } from '../model/types.js';
import { Turns } from '../turns.js';

/** The model copy: a hash of routes (`host path pathType` → backend) and one of backends (→ endpoints). */
export const MODEL_ROUTES_KEY = 'ingressfed:model:routes';
export const MODEL_BACKENDS_KEY = 'ingressfed:model:backends';
const MODEL_AT_KEY = 'ingressfed:model:at';
/** Fields per command: a full write of a large model goes in slices, never one huge command. */
const SLICE = 500;
/**
 * How long a failed save waits before it answers. Its caller saves again as soon as it is answered
 * (see Hub.saveModel), and without Redis a save fails at once: unpaced, that retry would be a loop of
 * promises that never yields the event loop, so the API and the edges would stop until the lease ran out.
 */
const FAILED_SAVE_PAUSE_MS = 500;

/**
 * The hub's Redis: fails fast (no offline queue, bounded command time) so that nothing queued while
 * Redis was away is replayed later, nor is a command that was sent but not answered when the
 * connection dropped (its caller was told it failed). Redis holds a copy of the merged model for
 * other replicas; losing it loses nothing, since the model is rebuilt from the state bucket.
 */
export class RedisStore {
  readonly redis: Redis;
  lastError: string | undefined;
  writes = 0;

  /** `tls`: for a `rediss://` url, the server's CA (else the system's trust store) and a client certificate when Redis asks for one. */
  constructor(url: string, tls?: ClientTls) {
    this.redis = new Redis(url, {
      ...(url.startsWith('rediss://') ? { tls: { ...tls } } : {}),
      enableOfflineQueue: false, commandTimeout: 1000, maxRetriesPerRequest: 1, lazyConnect: true,
      // ioredis would otherwise send again, once reconnected, what the lost connection left unanswered:
      // a lease or model write whose caller already gave up on it.
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.redis.on('error', (err: Error) => (this.lastError = this.connectionError = err.message));
    this.redis.on('ready', () => (this.connectionError = undefined));
  }

  /** Why the connection is down (a refused password, a refused connection), while it is. */
  private connectionError: string | undefined;
  /** Ends the pauses of failed saves (on close). */
  private readonly pauses = new Set<() => void>();

  /** A failed command's reason: the connection's own when it is down (not "stream isn't writeable"). */
  private failure(err: unknown): string {
    return this.redis.status !== 'ready' && this.connectionError ? `Redis unavailable: ${this.connectionError}` : (err as Error).message;
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
   * in both models. Answers false when Redis failed (the next save must then write it all), after
   * FAILED_SAVE_PAUSE_MS (or at close), having written nothing since the failure.
   */
  async saveModel(prev: FederatedModel | undefined, next: FederatedModel): Promise<boolean> {
    const routeField = (r: FederatedModel['routes'][number]): string => `${r.host} ${r.path} ${r.pathType}`;
    const setRoutes: string[] = [];
    const setBackends: string[] = [];
    let delRoutes: string[] = [];
    let delBackends: string[] = [];
    if (!prev) {
      // Ten thousand of each: keyed and serialized in short turns.
      const turns = new Turns();
      delRoutes = ['*'];
      for (const r of next.routes) {
        setRoutes.push(routeField(r), backendKey(r.backend));
        if (turns.due) await turns.pause();
      }
      for (const b of next.backends) {
        setBackends.push(backendKey(b.id), JSON.stringify(b.endpoints));
        if (turns.due) await turns.pause();
      }
    } else {
      // Unchanged routes and backends are the same objects from one model to the next: only the
      // others are keyed and written.
      if (prev.routes !== next.routes) {
        const { added, removed } = await changedObjects(prev.routes, next.routes);
        for (const r of added) setRoutes.push(routeField(r), backendKey(r.backend));
        const kept = new Set(added.map(routeField));
        delRoutes = removed.map(routeField).filter((f) => !kept.has(f));
      }
      if (prev.backends !== next.backends) {
        const { added, removed } = await changedObjects(prev.backends, next.backends);
        for (const b of added) setBackends.push(backendKey(b.id), JSON.stringify(b.endpoints));
        const kept = new Set(added.map((b) => backendKey(b.id)));
        delBackends = removed.map((b) => backendKey(b.id)).filter((k) => !kept.has(k));
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
      this.lastError = this.failure(err);
      await this.pause(FAILED_SAVE_PAUSE_MS);
      return false;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.pauses.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.pauses.add(done);
    });
  }

  async close(): Promise<void> {
    for (const done of [...this.pauses]) done();
    this.redis.disconnect();
  }
}

/** The objects of `next` not in `prev`, and those of `prev` not in `next` (by identity), in short turns. */
async function changedObjects<T extends object>(prev: readonly T[], next: readonly T[]): Promise<{ added: T[]; removed: T[] }> {
  const turns = new Turns();
  const indexed = async (list: readonly T[]): Promise<Set<T>> => {
    const set = new Set<T>();
    for (const x of list) {
      set.add(x);
      if (turns.due) await turns.pause();
    }
    return set;
  };
  const before = await indexed(prev);
  const after = await indexed(next);
  return { added: next.filter((x) => !before.has(x)), removed: prev.filter((x) => !after.has(x)) };
}
