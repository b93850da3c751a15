import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SpokeMetrics } from './metrics.js';

/** What the probe server asks the spoke. */
export interface ProbeTarget {
  readiness(): { ready: boolean; reasons: string[] };
}

export interface ProbeServer {
  /** The address it listens on (host:port). */
  address: string;
  close(): Promise<void>;
}

/**
 * The spoke's HTTP endpoints for its Pod: `/healthz` (the process answers: liveness), `/readyz`
 * (every informer has listed and NATS is connected; 503 with the reasons otherwise) and `/metrics`
 * (Prometheus text format). Nothing else is served, and nothing here changes the spoke.
 */
export async function startProbeServer(listen: { host: string; port: number }, spoke: ProbeTarget, metrics: SpokeMetrics): Promise<ProbeServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (path === '/healthz') return reply(200, 'ok\n');
    if (path === '/readyz') {
      const r = spoke.readiness();
      return reply(r.ready ? 200 : 503, r.ready ? 'ok\n' : `not ready:\n${r.reasons.map((x) => `- ${x}\n`).join('')}`);
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then((text) => reply(200, text, metrics.registry.contentType), (err: Error) => reply(500, `${err.message}\n`));
      return undefined;
    }
    return reply(404, 'not found: the spoke serves /healthz, /readyz and /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
