import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientTls } from '@ingressfed/schemas/nats';
import type { TestCa } from './certs.js';
import { ManagedProcess } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface RedisServer {
  /** With the password (redis://:password@127.0.0.1:port; rediss:// with TLS). */
  url: string;
  /** With TLS: what the hub connects with (the CA, and a client certificate when Redis requires one). */
  clientTls?: ClientTls;
  /** Without credentials, for what must be refused. */
  address: string;
  password: string;
  port: number;
  /** The running redis-server (a new one after start()). */
  process: ManagedProcess;
  /**
   * Kills the server (SIGKILL): clients lose it, and what it held is gone (no persistence). Its
   * port, password and configuration stay for start().
   */
  kill(): Promise<void>;
  /** Starts the server again on the same port, with the same password and configuration (and empty). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real redis-server on a free loopback port, without persistence, in a temporary directory, that
 * requires a password (set in its configuration file, not on its command line).
 */
export async function startRedis(opts: { tls?: { ca: TestCa; verify?: boolean } } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = tempDir('redis');
  const password = randomBytes(18).toString('base64url');
  const conf = join(dir.path, 'redis.conf');
  writeFileSync(conf, `requirepass ${password}\n`, { mode: 0o600 });
  const tls = opts.tls;
  const server = tls?.ca.server('redis-server');
  const client = tls?.verify ? tls.ca.client('redis-hub') : undefined;
  // With TLS, the plain port is closed: only the TLS port listens.
  const listen = tls && server
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', server.certFile, '--tls-key-file', server.keyFile, '--tls-ca-cert-file', tls.ca.caFile, '--tls-auth-clients', tls.verify ? 'yes' : 'no']
    : ['--port', String(port)];
  const args = [conf, ...listen, '--bind', '127.0.0.1', '--dir', dir.path, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'];
  const launch = async (): Promise<ManagedProcess> => {
    const p = new ManagedProcess('redis-server', 'redis-server', args);
    await p.waitForLine(/Ready to accept connections/);
    return p;
  };
  let proc = await launch();
  const scheme = tls ? 'rediss' : 'redis';
  return {
    url: `${scheme}://:${password}@127.0.0.1:${port}`,
    address: `${scheme}://127.0.0.1:${port}`,
    ...(tls ? { clientTls: { ca: tls.ca.ca, ...(client ? { cert: client.cert, key: client.key } : {}) } } : {}),
    password,
    port,
    get process() {
      return proc;
    },
    async kill() {
      await proc.stop(5000, 'SIGKILL');
    },
    async start() {
      if (proc.running) throw new Error('redis-server is already running');
      proc = await launch();
    },
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}
