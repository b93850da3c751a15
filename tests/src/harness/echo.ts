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
  /** While true, requests are accepted and never answered (a hung process). */
  hang: boolean;
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
  const state = { requests: 0, hang: false, endpoint: '' };
  const server = createServer((req, res) => {
    if (state.hang) return;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      // The listener may already be closed while a last request completes: use the address it had.
      const reply: EchoReply = {
        ...meta,
        endpoint: state.endpoint,
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
  state.endpoint = `${a.address}:${a.port}`;
  return {
    get hang() {
      return state.hang;
    },
    set hang(v: boolean) {
      state.hang = v;
    },
    address,
    port: a.port,
    endpoint: `${address}:${a.port}`,
    get requests() {
      return state.requests;
    },
    server,
    /**
     * Refuses new connections from now on and closes idle keep-alive ones; a response already being
     * written completes (as when a process stops accepting). Connections still open after 2 s (a hung
     * server) are destroyed.
     */
    async stop() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      if (state.hang) server.closeAllConnections();
      const force = setTimeout(() => server.closeAllConnections(), 2000);
      await closed;
      clearTimeout(force);
    },
  };
}
