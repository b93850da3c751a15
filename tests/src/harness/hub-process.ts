import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Federation } from './federation.js';
import { LOOPBACK } from './federation.js';
import { ManagedProcess } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

const HUB_BIN = fileURLToPath(new URL('../../../hub/bin/ingressfed-hub.mjs', import.meta.url));

/** A hub as its own process (`ingressfed-hub --config`), on a federation's NATS, Redis and edges. */
export interface HubProcess {
  process: ManagedProcess;
  apiUrl: string;
  /** SIGSTOP: the whole process stands still, as a hub paused by its machine would. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  stop(): Promise<void>;
}

/** `edgeUrls`: where this hub reaches each edge's Data Plane API (default: the edge's own url). */
export async function startHubProcess(fed: Federation, opts: { leaseTtlMs?: number; token: string; edgeUrls?: string[] }): Promise<HubProcess> {
  const dir = tempDir('hub');
  const port = await freePort();
  const config = join(dir.path, 'hub.json');
  writeFileSync(config, JSON.stringify({
    nats: { url: fed.nats.url, user: fed.nats.auth.hub.user, password: fed.nats.auth.hub.password },
    ...(fed.redis ? { redis: { url: fed.redis.url } } : {}),
    edges: fed.edges.map((e, i) => {
      const { ca: _ca, ...edge } = e.config;
      return { ...edge, url: opts.edgeUrls?.[i] ?? edge.url };
    }),
    allowedEndpointCidrs: { '*': [LOOPBACK] },
    api: { host: '127.0.0.1', port, tokens: [{ name: 'test', token: opts.token, role: 'admin' }] },
    ...(opts.leaseTtlMs ? { leaseTtlMs: opts.leaseTtlMs } : {}),
    resyncIntervalMs: 2000,
  }), { mode: 0o600 });
  const proc = new ManagedProcess('ingressfed-hub', process.execPath, [HUB_BIN, '--config', config]);
  await proc.waitForLine(/"msg":"started"/, 30_000);
  return {
    process: proc,
    apiUrl: `http://127.0.0.1:${port}`,
    pause: () => proc.child.kill('SIGSTOP'),
    resume: () => proc.child.kill('SIGCONT'),
    async stop() {
      proc.child.kill('SIGCONT');
      await proc.stop(10_000);
      dir.remove();
    },
  };
}
