import { ManagedProcess } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface RedisServer {
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** A real redis-server on a free loopback port, without persistence, in a temporary directory. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = tempDir('redis');
  const proc = new ManagedProcess('redis-server', 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes',
  ]);
  await proc.waitForLine(/Ready to accept connections/);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: proc,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}
