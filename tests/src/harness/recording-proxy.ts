import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy in front of an HTTP server that keeps every byte one client sends (request
 * lines, headers and bodies, reads and writes alike), per connection, so that a test can search
 * everything the client ever asked of the server. Plain HTTP only: over TLS it would see ciphertext.
 *
 * It can also hold requests (see `hold`): a request whose request line matches is kept, never passed
 * on, and so is everything the client sends after it on that connection; the client waits for an
 * answer that never comes, and the server never sees the request. Held bytes are recorded all the same.
 */
export interface RecordingProxy {
  url: string;
  /** How many connections the client opened through the proxy. */
  readonly connections: number;
  /** How many bytes the client sent through the proxy. */
  readonly bytes: number;
  /** Everything sent on each connection so far, in order (UTF-8; the bytes of a connection are joined first). */
  sent(): string[];
  /**
   * From now on, holds each request whose request line (method and target, such as
   * `PUT /v3/services/haproxy/transactions/…?force_reload=false`) matches `match`: it and what follows
   * it on its connection stay with the proxy until the connection closes. `undefined` holds no
   * further request; those already held stay held.
   */
  hold(match: ((requestLine: string) => boolean) | undefined): void;
  /** The request lines held so far, in order. */
  readonly held: readonly string[];
  stop(): Promise<void>;
}

/** A request line, at the start of a chunk or after the end of a line (HTTP/1.1 without pipelining: a chunk starts a request or goes on with one). */
const REQUEST_LINE = /(?:^|\r\n)([A-Z]+ \/\S*) HTTP\/1\.[01]\r\n/g;

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const t = new URL(target);
  if (t.protocol !== 'http:') throw new Error(`a recording proxy needs a plain HTTP target, not ${t.protocol}`);
  const streams: Buffer[][] = [];
  let bytes = 0;
  let match: ((requestLine: string) => boolean) | undefined;
  const held: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: t.hostname, port: Number(t.port) });
    const chunks: Buffer[] = [];
    streams.push(chunks);
    /** This connection holds everything from a matching request on. */
    let holding = false;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.on('data', (d: Buffer) => {
      chunks.push(d);
      bytes += d.length;
      if (holding) return;
      if (match) {
        for (const m of d.toString('latin1').matchAll(REQUEST_LINE)) {
          const line = m[1] as string;
          if (!match(line)) continue;
          holding = true;
          held.push(line);
          // What came before the held request on this chunk (latin1: one character per byte) goes on.
          const at = (m.index ?? 0) + (m[0].startsWith('\r\n') ? 2 : 0);
          if (at > 0) upstream.write(d.subarray(0, at));
          return;
        }
      }
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
    hold(m: ((requestLine: string) => boolean) | undefined) {
      match = m;
    },
    held,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
