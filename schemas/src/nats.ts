// NATS helpers shared by the spoke and the hub: connect without a reconnect limit, open the KV buckets.
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface NatsTarget {
  url: string;
  user?: string;
  password?: string;
  name: string;
}

/** Connects for ever: reconnects without limit (RELIABILITY rule 6), and retries the first connect too. */
export async function connectNats(t: NatsTarget, log: (msg: string, f?: Record<string, unknown>) => void, signal?: AbortSignal): Promise<NatsConnection> {
  let wait = 250;
  for (;;) {
    try {
      return await connect({
        servers: t.url, name: t.name, user: t.user, pass: t.password,
        maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: 5000, waitOnFirstConnect: false,
        // Otherwise every request (each KV put) captures a stack trace up front, in case it fails:
        // a measurable share of the hub's time when it writes ten thousand statuses.
        noAsyncTraces: true,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      log('cannot connect to NATS; retrying', { url: t.url, error: (err as Error).message, retryInMs: wait });
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 5000);
    }
  }
}

/** Opens a KV bucket, creating it when missing (history 1: only the latest value of a key matters). */
export function openBucket(nc: NatsConnection, name: string): Promise<KV> {
  return new Kvm(jetstream(nc)).create(name, { history: 1 });
}
