import type { NatsConnection } from '@nats-io/transport-node';
import type { RedisStore } from './store/redis-store.js';

/** How the hub reaches what it depends on, as the API and readiness report it. */
export interface LinksView {
  nats: { connected: boolean; downForMs: number | null; lastError: string | null };
  redis: { configured: boolean; connected: boolean; lastError: string | null };
}

/**
 * Follows the hub's NATS connection (its status events) and reads Redis's: a hub that lost NATS
 * hears of no change and writes no status, so it must not say it is ready.
 */
export class Links {
  private natsDownSince: number | undefined;
  private natsError: string | undefined;
  private closed = false;

  constructor(private readonly nc: NatsConnection, private readonly redis: RedisStore | undefined) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'staleConnection') this.natsDownSince ??= Date.now();
        else if (s.type === 'reconnect') this.natsDownSince = undefined;
        else if (s.type === 'error') this.natsError = String(s.error?.message ?? s.error);
      }
    })();
    void nc.closed().then(() => {
      this.closed = true;
    });
  }

  get natsConnected(): boolean {
    return !this.closed && this.natsDownSince === undefined;
  }

  view(now = Date.now()): LinksView {
    const r = this.redis;
    return {
      nats: { connected: this.natsConnected, downForMs: this.natsDownSince === undefined ? null : now - this.natsDownSince, lastError: this.natsError ?? null },
      redis: { configured: r !== undefined, connected: r?.redis.status === 'ready', lastError: r?.lastError ?? null },
    };
  }
}
