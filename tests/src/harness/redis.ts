import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

export interface RedisServer {
  /** With the password (redis://:password@127.0.0.1:port). */
  url: string;
  /** Without credentials, for what must be refused. */
  address: string;
  password: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * A real redis-server on a free loopback port, without persistence, in a temporary directory, that
 * requires a password (set in its configuration file, not on its command line).
 */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = tempDir('redis');
  const password = randomBytes(18).toString('base64url');
  const conf = join(dir.path, 'redis.conf');
  writeFileSync(conf, `requirepass ${password}\n`, { mode: 0o600 });
  const proc = new ManagedProcess('redis-server', 'redis-server', [
    conf, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes',
  ]);
  await proc.waitForLine(/Ready to accept connections/);
  return {
    url: `redis://:${password}@127.0.0.1:${port}`,
    address: `redis://127.0.0.1:${port}`,
    password,
    port,
    process: proc,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}
