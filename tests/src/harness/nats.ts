import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { STATUS_BUCKET } from '@ingressfed/schemas';
import { natsAuthConfig, natsAuthFor, openBucket, openStateBucket, spokeInboxPrefix, type ClientTls, type NatsAuth, type NatsIdentity } from '@ingressfed/schemas/nats';
import type { TestCa } from './certs.js';
import { ManagedProcess } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

/** TLS of the test NATS: a server certificate from `ca`; with `verify`, every client must show one of its certificates too. */
export interface NatsTlsOptions {
  ca: TestCa;
  verify?: boolean;
}

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** Every identity the server knows: the hub's and one per cluster (see schemas/src/nats-auth.ts). */
  auth: NatsAuth;
  process: ManagedProcess;
  /** Kills the server (SIGKILL): clients lose it. Its store and configuration stay for start(). */
  kill(): Promise<void>;
  /** Starts the server again on the same port, store and identities. */
  start(): Promise<void>;
  /** The credentials of a cluster's spoke. */
  spoke(cluster: string): NatsIdentity;
  /** With TLS: what a client (`hub` or a cluster) connects with (the CA, and its own certificate when verified). */
  clientTls(who: string): ClientTls | undefined;
  /** A raw connection as the hub (every key of every bucket). */
  connectAsHub(): Promise<NatsConnection>;
  /** A raw connection as a cluster's spoke, with its inbox prefix: what an attacker holding its credentials gets. */
  connectAsSpoke(cluster: string): Promise<NatsConnection>;
  stop(): Promise<void>;
}

/** Clusters the harness's NATS knows unless told otherwise. */
export const TEST_CLUSTERS = ['alpha', 'beta', 'gamma'];

/**
 * A real nats-server with JetStream on a free loopback port and a temporary store, with the
 * authorization ingressfed-nats-auth generates: no anonymous connections, one identity per cluster.
 * The buckets are created as the hub creates them (spokes only open them), unless `buckets: false`.
 */
export async function startNats(opts: { port?: number; storeDir?: string; clusters?: readonly string[]; buckets?: boolean; tls?: NatsTlsOptions } = {}): Promise<NatsServer> {
  const port = opts.port ?? (await freePort());
  const dir = tempDir('nats');
  const storeDir = opts.storeDir ?? join(dir.path, 'store');
  const auth = natsAuthFor(opts.clusters ?? TEST_CLUSTERS);
  const conf = join(dir.path, 'auth.conf');
  writeFileSync(conf, natsAuthConfig(auth) + (opts.tls ? tlsBlock(opts.tls) : ''), { mode: 0o600 });
  const launch = async (): Promise<ManagedProcess> => {
    const p = new ManagedProcess('nats-server', 'nats-server', ['-c', conf, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir]);
    await p.waitForLine(/Server is ready/);
    return p;
  };
  let proc = await launch();
  const url = `${opts.tls ? 'tls' : 'nats'}://127.0.0.1:${port}`;
  const clients = new Map<string, ClientTls>();
  const clientTls = (who: string): ClientTls | undefined => {
    const tls = opts.tls;
    if (!tls) return undefined;
    let c = clients.get(who);
    if (!c) {
      const cert = tls.verify ? tls.ca.client(`nats-${who}`) : undefined;
      c = { ca: tls.ca.ca, ...(cert ? { cert: cert.cert, key: cert.key } : {}) };
      clients.set(who, c);
    }
    return c;
  };
  const spoke = (cluster: string): NatsIdentity => {
    const id = auth.clusters[cluster];
    if (!id) throw new Error(`the test NATS has no identity for cluster '${cluster}'`);
    return id;
  };
  const tlsOf = (who: string): { tls?: ClientTls } => (opts.tls ? { tls: clientTls(who) } : {});
  const connectAsHub = (): Promise<NatsConnection> => connect({ servers: url, user: auth.hub.user, pass: auth.hub.password, ...tlsOf('hub') });
  if (opts.buckets !== false) {
    const nc = await connectAsHub();
    await openStateBucket(nc);
    await openBucket(nc, STATUS_BUCKET);
    await nc.close();
  }
  return {
    url,
    port,
    storeDir,
    auth,
    get process() {
      return proc;
    },
    async kill() {
      await proc.stop(5000, 'SIGKILL');
    },
    async start() {
      proc = await launch();
    },
    spoke,
    clientTls,
    connectAsHub,
    connectAsSpoke: (cluster) => connect({ servers: url, user: spoke(cluster).user, pass: spoke(cluster).password, inboxPrefix: spokeInboxPrefix(cluster), ...tlsOf(cluster) }),
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}

/** nats-server's tls block: its certificate from the test CA, and client certificates required when `verify`. */
function tlsBlock(tls: NatsTlsOptions): string {
  const server = tls.ca.server('nats-server');
  const q = (s: string): string => JSON.stringify(s);
  return `tls {\n  cert_file: ${q(server.certFile)}\n  key_file: ${q(server.keyFile)}\n  ca_file: ${q(tls.ca.caFile)}\n  verify: ${tls.verify ? 'true' : 'false'}\n  timeout: 2\n}\n`;
}
