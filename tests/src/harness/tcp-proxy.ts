import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy in front of a server, to watch, hold or cut one client's traffic.
 *
 * In front of an HTTP server it counts the writing requests (POST, PUT, DELETE) the client sends,
 * and while `hold` is on it keeps the writing requests (and what follows them on their connection)
 * instead of passing them on: a server slow to answer writes, as the client sees it. Reads pass.
 * Given a match, it keeps only from the first writing request whose line matches. Turned off, it
 * passes on everything kept, in order.
 *
 * In front of any server, `cut` makes a network partition: while on, every byte in both directions
 * is dropped, closes are not passed on, and new connections are accepted but go nowhere; neither
 * side is told anything. Turned off, every connection that lived through the cut is destroyed (both
 * sides), as a partition that heals leaves broken connections behind, and clients connect again.
 */
export interface TcpProxy {
  url: string;
  /** The writing requests seen so far (request lines such as `PUT /v3/…`). */
  writes: string[];
  /** On (every writing request, or those whose request line matches): keeps them. Off: passes them on. */
  hold(on: boolean | ((requestLine: string) => boolean)): void;
  /** On: a network partition between the client and the server. Off: heals it (see above). */
  cut(on: boolean): void;
  /** On: the server's answers are lost, the client's requests still arrive. Off: ends it (see above). */
  mute(on: boolean): void;
  /**
   * On: the server is down as the client sees it: every connection is closed and new ones are
   * refused (the proxy stops listening). Off: it listens again on the same port.
   */
  refuse(on: boolean): Promise<void>;
  /** Connections open through the proxy (both sides counted once), silent ones accepted during a cut included. */
  readonly connections: number;
  stop(): Promise<void>;
}

const WRITE_LINE = /(?:^|\r\n)((?:POST|PUT|DELETE) \/\S+) HTTP\/1\.1\r\n/g;

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const t = new URL(target);
  const writes: string[] = [];
  let holding = false;
  let holdMatch: ((requestLine: string) => boolean) | undefined;
  let cutting = false;
  let muting = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  /** Each connection's sockets (one, for a connection accepted during a cut), to destroy on heal. */
  const connections = new Set<Socket[]>();
  const track = (pair: Socket[]): void => {
    connections.add(pair);
    for (const s of pair) {
      sockets.add(s);
      s.on('close', () => {
        sockets.delete(s);
        if (pair.every((x) => x.destroyed)) connections.delete(pair);
      });
      s.on('error', () => s.destroy());
    }
  };
  const server: Server = createServer((client) => {
    if (cutting) {
      // Accepted (the listening side is this host's), but nothing reaches the server: silence.
      track([client]);
      client.on('data', () => undefined);
      return;
    }
    const upstream = connect({ host: t.hostname, port: Number(t.port) });
    track([client, upstream]);
    let holdingHere = false;
    client.on('data', (d: Buffer) => {
      if (cutting) return;
      const found = [...d.toString('latin1').matchAll(WRITE_LINE)].map((m) => m[1] as string);
      writes.push(...found);
      holdingHere ||= holding && found.some((line) => !holdMatch || holdMatch(line));
      if (holdingHere && holding) {
        held.push(() => {
          if (!cutting) upstream.write(d);
        });
      } else upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!cutting && !muting) client.write(d);
    });
    // During a cut a close is not seen by the other side; healing destroys both sides anyway.
    client.on('close', () => {
      if (!cutting) upstream.destroy();
    });
    upstream.on('close', () => {
      if (!cutting) client.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  let refusing = false;
  return {
    url: `${t.protocol}//127.0.0.1:${port}`,
    writes,
    hold(on: boolean | ((requestLine: string) => boolean)) {
      holding = on !== false;
      holdMatch = typeof on === 'function' ? on : undefined;
      if (!on) for (const send of held.splice(0)) send();
    },
    cut(on: boolean) {
      if (on === cutting) return;
      const through = [...connections];
      cutting = on;
      if (!on) {
        for (const pair of through) for (const s of pair) s.destroy();
      }
    },
    mute(on: boolean) {
      if (on === muting) return;
      const through = [...connections];
      muting = on;
      if (!on) {
        for (const pair of through) for (const s of pair) s.destroy();
      }
    },
    async refuse(on: boolean) {
      if (on === refusing) return;
      refusing = on;
      if (on) {
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of sockets) s.destroy();
        await closed;
      } else {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
      }
    },
    get connections() {
      return connections.size;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      if (!refusing) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
