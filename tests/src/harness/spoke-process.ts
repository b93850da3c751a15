import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Federation } from './federation.js';
import { ManagedProcess } from './process.js';
import { tempDir } from './tmp.js';

const SPOKE_BIN = fileURLToPath(new URL('../../../spoke/bin/ingressfed-spoke.mjs', import.meta.url));

/** A spoke as its own process (`ingressfed-spoke`), for one cluster of a federation. */
export interface SpokeProcess {
  process: ManagedProcess;
  pid: number;
  /** The epoch the process started with (from its `started` line). */
  epoch: string;
  /** The command line it runs with: the NATS password is never on it. */
  args: string[];
  /** SIGKILL: a crash; nothing is flushed, closed or given up. */
  kill(): Promise<void>;
  /** SIGTERM, as an orderly shutdown (SIGKILL if it does not exit in time). */
  stop(): Promise<void>;
}

export interface SpokeProcessOptions {
  /** The NATS server the spoke connects to (default: the federation's); e.g. a proxy in front of it. */
  natsUrl?: string;
  /** How the NATS password reaches the process: its environment (default) or a file only its user can read. */
  passwordIn?: 'env' | 'file';
  heartbeatIntervalMs?: number;
  watchStallMs?: number;
  emptyListGraceMs?: number;
  /** How long to wait for the `started` line (default 30 s). */
  startTimeoutMs?: number;
  /**
   * Runs the process with its wall clock this far off (libfaketime's offset, such as `+10m` or
   * `-10m`): every time it reads (Date, gettimeofday, clock_gettime) but the monotonic clock, so its
   * timers run as usual, as on a machine whose clock is set wrong.
   */
  clockOffset?: string;
}

/** libfaketime, installed by scripts/setup.sh (Debian's `faketime` package), wherever its architecture puts it. */
function libfaketime(): string {
  const found = readdirSync('/usr/lib').map((d) => join('/usr/lib', d, 'faketime', 'libfaketime.so.1')).find((p) => existsSync(p));
  if (!found) throw new Error('libfaketime is not installed (scripts/setup.sh installs the faketime package)');
  return found;
}

/**
 * Runs `ingressfed-spoke` for `cluster` against the federation's NATS (or `natsUrl`) and the
 * cluster's API stand-in, and resolves once it has started: connected, every informer listed.
 * The command line carries no secret: the password is in the environment or a file, and with TLS
 * the certificates are files in a temporary directory removed when the process is stopped or killed.
 */
export async function startSpokeProcess(fed: Federation, cluster: string, opts: SpokeProcessOptions = {}): Promise<SpokeProcess> {
  const c = fed.clusters.get(cluster);
  if (!c) throw new Error(`no cluster ${cluster}`);
  const id = fed.nats.spoke(cluster);
  const dir = tempDir(`spoke-${cluster}`);
  const file = (name: string, content: string): string => {
    const p = join(dir.path, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };
  const args = [
    SPOKE_BIN, '--cluster', cluster, '--zone', c.zone, '--nats', opts.natsUrl ?? fed.nats.url, '--nats-user', id.user,
    '--kubeconfig', c.kube.spokeKubeconfig, '--heartbeat-interval', String(opts.heartbeatIntervalMs ?? 200),
    ...(opts.watchStallMs === undefined ? [] : ['--watch-stall', String(opts.watchStallMs)]),
    ...(opts.emptyListGraceMs === undefined ? [] : ['--empty-list-grace', String(opts.emptyListGraceMs)]),
  ];
  const tls = fed.nats.clientTls(cluster);
  if (tls?.ca) args.push('--nats-ca', file('ca.pem', tls.ca));
  if (tls?.cert && tls.key) args.push('--nats-cert', file('cert.pem', tls.cert), '--nats-key', file('key.pem', tls.key));
  // Only what this process is told here: nothing inherited from the test's own INGRESSFED_ settings.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('INGRESSFED_') && k !== 'KUBECONFIG'));
  if ((opts.passwordIn ?? 'env') === 'env') env.INGRESSFED_NATS_PASSWORD = id.password;
  else args.push('--nats-password-file', file('nats-password', `${id.password}\n`));
  if (opts.clockOffset) Object.assign(env, { LD_PRELOAD: libfaketime(), FAKETIME: opts.clockOffset, FAKETIME_DONT_FAKE_MONOTONIC: '1' });
  if (args.some((a) => a.includes(id.password))) throw new Error('the NATS password would be on the command line');
  const proc = new ManagedProcess(`ingressfed-spoke/${cluster}`, process.execPath, args, { env });
  let started: string;
  try {
    started = await proc.waitForLine(/"msg":"started"/, opts.startTimeoutMs ?? 30_000);
  } catch (err) {
    await proc.stop(1000, 'SIGKILL');
    dir.remove();
    throw err;
  }
  const epoch = String((JSON.parse(started) as { epoch?: unknown }).epoch);
  return {
    process: proc,
    pid: proc.child.pid as number,
    epoch,
    args,
    async kill() {
      await proc.stop(5000, 'SIGKILL');
      dir.remove();
    },
    async stop() {
      await proc.stop(10_000);
      dir.remove();
    },
  };
}
