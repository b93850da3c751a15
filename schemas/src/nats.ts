// NATS helpers shared by the spoke and the hub: connect without a reconnect limit, open the KV buckets.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { STATE_BUCKET } from './keys.js';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Backoff } from './backoff.js';

/** PEM text of a client's TLS: the CA of the server's certificate, and its own certificate and key (mutual TLS). */
export interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface NatsTarget {
  url: string;
  user?: string;
  password?: string;
  name: string;
  /** TLS to the server (required by a `tls://` url); without a CA, the system's trust store. */
  tls?: ClientTls;
  /** Where replies and watches are delivered (a spoke's permissions confine it to its own, see nats-auth.ts). */
  inboxPrefix?: string;
}

/** Connects for ever: reconnects without limit (RELIABILITY rule 6), and retries the first connect too. */
export async function connectNats(t: NatsTarget, log: (msg: string, f?: Record<string, unknown>) => void, signal?: AbortSignal): Promise<NatsConnection> {
  return untilDone(() => connect({
    servers: t.url, name: t.name, user: t.user, pass: t.password, ...(t.inboxPrefix ? { inboxPrefix: t.inboxPrefix } : {}),
    ...(t.tls ? { tls: { ...t.tls } } : {}),
    maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: 5000, waitOnFirstConnect: false,
    // Otherwise every request (each KV put) captures a stack trace up front, in case it fails:
    // a measurable share of the hub's time when it writes ten thousand statuses.
    noAsyncTraces: true,
  }), (err, retryInMs) => log('cannot connect to NATS; retrying', { url: t.url, error: err.message, retryInMs }), signal);
}

/** Runs `attempt` until it succeeds, waiting (with backoff) after each failure; stops when `signal` aborts. */
async function untilDone<T>(attempt: () => Promise<T>, onFailure: (err: Error, retryInMs: number) => void, signal?: AbortSignal): Promise<T> {
  const backoff = new Backoff(250, 5000);
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (signal?.aborted) throw err;
      const wait = backoff.fail();
      onFailure(err as Error, wait);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * Opens a bucket the hub created, as a spoke does: a spoke may not create buckets, nor read any key
 * but its own, so the bucket is known to exist once a direct get of one of its own keys (`probeKey`)
 * answers; until then (the hub has not run yet) it waits.
 */
export async function openExistingBucket(nc: NatsConnection, name: string, probeKey: string, log: (msg: string, f?: Record<string, unknown>) => void, signal?: AbortSignal): Promise<KV> {
  // Direct gets name the key in the request subject, where the server's permissions can see it.
  const kv = await new Kvm(jetstream(nc)).open(name, { allow_direct: true });
  await untilDone(() => kv.get(probeKey), (err, retryInMs) => log(`cannot read the ${name} bucket (the hub creates it); retrying`, { error: err.message, retryInMs }), signal);
  return kv;
}

/**
 * Opens the state bucket as the hub does, creating it when missing, with rollups refused: a purge
 * (a rollup) can make a watch skip the changes before it, so no one may purge a key; a spoke
 * deletes its keys instead.
 */
export async function openStateBucket(nc: NatsConnection): Promise<KV> {
  const kv = await openBucket(nc, STATE_BUCKET);
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(`KV_${STATE_BUCKET}`);
  if (info.config.allow_rollup_hdrs) await jsm.streams.update(info.config.name, { ...info.config, allow_rollup_hdrs: false });
  return kv;
}

/**
 * Opens a KV bucket, creating it when missing (the hub) (history 1: only the latest value of a key
 * matters); `ttlMs`: how long a value lives.
 */
export function openBucket(nc: NatsConnection, name: string, ttlMs?: number): Promise<KV> {
  return new Kvm(jetstream(nc)).create(name, { history: 1, ...(ttlMs ? { ttl: ttlMs } : {}) });
}
export { natsAuthConfig, natsAuthFor, newPassword, spokeInboxPrefix, spokePermissions, spokeUser, type NatsAuth, type NatsIdentity, type SubjectPermissions } from './nats-auth.js';
