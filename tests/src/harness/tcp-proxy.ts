import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy in front of an HTTP server, to watch and hold one client's requests: it
 * counts the writing requests (POST, PUT, DELETE) the client sends, and while `hold` is on it keeps
 * the writing requests (and what follows them on their connection) instead of passing them on: a
 * server slow to answer writes, as the client sees it. Reads pass.
 */
export interface TcpProxy {
  url: string;
  /** The writing requests seen so far (request lines such as `PUT /v3/…`). */
  writes: string[];
  hold(on: boolean): void;
  stop(): Promise<void>;
}

const WRITE_LINE = /(?:^|\r\n)((?:POST|PUT|DELETE) \/\S+) HTTP\/1\.1\r\n/g;

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const t = new URL(target);
  const writes: string[] = [];
  let holding = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: t.hostname, port: Number(t.port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    let holdingHere = false;
    client.on('data', (d: Buffer) => {
      const found = [...d.toString('latin1').matchAll(WRITE_LINE)].map((m) => m[1] as string);
      writes.push(...found);
      holdingHere ||= holding && found.length > 0;
      if (holdingHere && holding) held.push(() => upstream.write(d));
      else upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `${t.protocol}//127.0.0.1:${(server.address() as AddressInfo).port}`,
    writes,
    hold(on: boolean) {
      holding = on;
      if (!on) for (const send of held.splice(0)) send();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
