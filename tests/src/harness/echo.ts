import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoReply {
  endpoint: string;
  host: string | undefined;
  path: string;
  method: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  [meta: string]: unknown;
}

export interface EchoServer {
  address: string;
  port: number;
  endpoint: string;
  requests: number;
  server: Server;
  stop(): Promise<void>;
}

/**
 * A small HTTP backend on a 127.0.0.x address that answers JSON naming the endpoint that served
 * the request, plus whatever metadata it was given (cluster, zone, service, ...).
 */
export async function startEchoServer(address: string, meta: Record<string, unknown> = {}, port = 0): Promise<EchoServer> {
  const state = { requests: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      const a = server.address() as AddressInfo;
      const reply: EchoReply = {
        ...meta,
        endpoint: `${a.address}:${a.port}`,
        host: req.headers.host,
        path: req.url ?? '/',
        method: req.method ?? 'GET',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const text = JSON.stringify(reply);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) }).end(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    address,
    port: a.port,
    endpoint: `${address}:${a.port}`,
    get requests() {
      return state.requests;
    },
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
