import { connectNats, type ClientTls } from '@ingressfed/schemas/nats';
import { Hub, type HubOptions } from './hub.js';
import { RedisStore } from './store/redis-store.js';

export interface HubConnectOptions extends HubOptions {
  natsUrl: string;
  natsUser?: string;
  natsPassword?: string;
  natsTls?: ClientTls;
  /** Redis for the leader lease, drains and the model copy; without it this hub always leads. */
  redisUrl?: string;
  /** TLS to Redis (a `rediss://` url): the server's CA, and the hub's certificate and key when Redis asks for one. */
  redisTls?: ClientTls;
}

/** Connects the clients a hub needs (NATS, and Redis when configured) and makes the hub; start() it. */
export async function connectHub(opts: HubConnectOptions): Promise<Hub> {
  const nc = await connectNats({ url: opts.natsUrl, user: opts.natsUser, password: opts.natsPassword, name: 'ingressfed-hub', tls: opts.natsTls },
    (m, f) => opts.log('warn', m, f));
  const redis = opts.redisUrl ? new RedisStore(opts.redisUrl, opts.redisTls) : undefined;
  return new Hub(opts, {
    nc, redis,
    close: async () => {
      await redis?.close();
      await nc.drain().catch(() => undefined);
    },
  });
}
