import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EchoFleet } from '../harness/index.js';

export interface FailRequest {
  zone?: string;
  cluster?: string;
  mode?: 'refuse' | 'hang';
}

/**
 * The playground's control endpoint (loopback only): fail and recover echo endpoints by zone or
 * cluster, and list them. Used by `ingressfed-playground fail|recover|endpoints`.
 */
export async function startControlServer(echo: EchoFleet): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (code: number, body: unknown): void => {
        res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      };
      void (async () => {
        try {
          if (req.method === 'GET' && req.url === '/endpoints') return reply(200, echo.describe());
          if (req.method === 'POST' && req.url === '/recover') {
            await echo.recover();
            return reply(200, echo.describe());
          }
          if (req.method === 'POST' && req.url === '/fail') {
            const f = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as FailRequest;
            if (!f.zone && !f.cluster) return reply(400, { error: 'give a zone or a cluster' });
            if (f.mode !== undefined && f.mode !== 'refuse' && f.mode !== 'hang') return reply(400, { error: 'mode is refuse or hang' });
            const hit = await echo.fail((meta) => (f.zone === undefined || meta.zone === f.zone) && (f.cluster === undefined || meta.cluster === f.cluster), f.mode ?? 'refuse');
            if (hit.length === 0) return reply(404, { error: `no endpoint in ${f.zone ? `zone ${f.zone}` : ''}${f.zone && f.cluster ? ' and ' : ''}${f.cluster ? `cluster ${f.cluster}` : ''}` });
            return reply(200, { failed: hit, mode: f.mode ?? 'refuse' });
          }
          reply(404, { error: 'unknown control request' });
        } catch (err) {
          reply(400, { error: (err as Error).message });
        }
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
