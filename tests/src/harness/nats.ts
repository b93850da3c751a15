import { ManagedProcess } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** A real nats-server with JetStream on a free loopback port and a temporary store. */
export async function startNats(opts: { port?: number; storeDir?: string } = {}): Promise<NatsServer> {
  const port = opts.port ?? (await freePort());
  const dir = opts.storeDir ? undefined : tempDir('nats');
  const storeDir = opts.storeDir ?? (dir as { path: string }).path;
  const proc = new ManagedProcess('nats-server', 'nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir]);
  await proc.waitForLine(/Server is ready/);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: proc,
    async stop() {
      await proc.stop();
      dir?.remove();
    },
  };
}
