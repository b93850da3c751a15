import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataPlaneClient } from '@ingressfed/dataplane';
import { showProc, type ProcState } from '@ingressfed/dataplane/local';
import type { TestCa } from './certs.js';
import { ManagedProcess } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

const BIN = fileURLToPath(new URL('../../../dataplane/bin/ingressfed-dataplane-local.mjs', import.meta.url));

export interface LocalDataPlane {
  url: string;
  username: string;
  password: string;
  /** PEM of the CA that signs the server's certificate, when it serves HTTPS. */
  ca?: string;
  workdir: string;
  masterSocket: string;
  statsSocket: string;
  process: ManagedProcess;
  client: DataPlaneClient;
  /** HAProxy's own view of its processes, from the master CLI. */
  procState(): Promise<ProcState>;
  stop(): Promise<void>;
}

/** The local Data Plane API server (its bin, as a separate process) with its own real HAProxy. */
export interface LocalDataPlaneOptions {
  reloadDelaySeconds?: number;
  maxOpenTransactions?: number;
  haproxyLog?: boolean;
  /** An operator's validate command, run after `haproxy -c` on every configuration. */
  validateCmd?: string;
  /** Serve HTTPS with a server certificate from this CA (the returned client trusts it). */
  tls?: TestCa;
}

export async function startLocalDataPlane(opts: LocalDataPlaneOptions = {}): Promise<LocalDataPlane> {
  const dir = tempDir('dataplane');
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const cert = opts.tls?.server(`dataplane-${port}`);
  const proc = new ManagedProcess('ingressfed-dataplane-local', process.execPath, [
    BIN, '--listen', `127.0.0.1:${port}`, '--workdir', dir.path, '--user', 'admin',
    '--reload-delay', String(opts.reloadDelaySeconds ?? 0.2),
    '--max-open-transactions', String(opts.maxOpenTransactions ?? 20),
    ...(opts.haproxyLog || process.env.INGRESSFED_HAPROXY_LOG === '1' ? ['--haproxy-log'] : []),
    ...(opts.validateCmd ? ['--validate-cmd', opts.validateCmd] : []),
    ...(cert ? ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile] : []),
  ], { env: { ...process.env, INGRESSFED_DPAPI_PASSWORD: password }, logFile: process.env.INGRESSFED_HAPROXY_LOG === '1' ? join(dir.path, '..', `ingressfed-edge-${port}.log`) : undefined });
  await proc.waitForLine(/"msg":"listening"/);
  const url = `${cert ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ca = opts.tls?.ca;
  const masterSocket = join(dir.path, 'run', 'master.sock');
  return {
    url,
    username: 'admin',
    password,
    ca,
    workdir: dir.path,
    masterSocket,
    statsSocket: join(dir.path, 'run', 'haproxy.sock'),
    process: proc,
    client: new DataPlaneClient({ url, username: 'admin', password, ca }),
    // The master CLI is briefly unavailable while HAProxy re-executes for a reload: wait for it.
    procState: () => waitFor('the HAProxy master CLI', () => showProc(masterSocket), { timeoutMs: 10_000 }),
    async stop() {
      await proc.stop(10_000);
      dir.remove();
    },
  };
}
