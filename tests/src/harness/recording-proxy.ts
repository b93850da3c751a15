import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy in front of an HTTP server that keeps every byte one client sends (request
 * lines, headers and bodies, reads and writes alike), per connection, so that a test can search
 * everything the client ever asked of the server. Plain HTTP only: over TLS it would see ciphertext.
 */
export interface RecordingProxy {
  url: string;
  /** How many connections the client opened through the proxy. */
  readonly connections: number;
  /** How many bytes the client sent through the proxy. */
  readonly bytes: number;
  /** Everything sent on each connection so far, in order (UTF-8; the bytes of a connection are joined first). */
  sent(): string[];
  stop(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const t = new URL(target);
  if (t.protocol !== 'http:') throw new Error(`a recording proxy needs a plain HTTP target, not ${t.protocol}`);
  const streams: Buffer[][] = [];
  let bytes = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: t.hostname, port: Number(t.port) });
    const chunks: Buffer[] = [];
    streams.push(chunks);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.on('data', (d: Buffer) => {
      chunks.push(d);
      bytes += d.length;
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get connections() {
      return streams.length;
    },
    get bytes() {
      return bytes;
    },
    sent: () => streams.map((chunks) => Buffer.concat(chunks).toString('utf8')),
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
