// The playground: the product on one machine. For now it runs the data plane (the local Data Plane
// API server with its real HAProxy) and an HTTP entry point that answers 404 until routes exist.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalDataPlane, type LocalDataPlane } from '../harness/index.js';

const USAGE = `usage: scripts/playground.sh [--http-port PORT] [--out DIR]

  --http-port PORT   port of the HAProxy entry point on 127.0.0.1 (default 8080)
  --out DIR          where playground.json is written (default .playground)
`;

const { values } = parseArgs({
  options: {
    'http-port': { type: 'string', default: '8080' },
    out: { type: 'string', default: '.playground' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const httpPort = Number(values['http-port']);
if (!Number.isInteger(httpPort) || httpPort < 1 || httpPort > 65535) {
  process.stderr.write(`--http-port ${values['http-port']} is not a port\n\n${USAGE}`);
  process.exit(2);
}

let dp: LocalDataPlane | undefined;

async function stopAll(): Promise<void> {
  await dp?.stop();
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    process.stdout.write(`\nstopping (${sig})\n`);
    stopAll().then(() => process.exit(0), () => process.exit(1));
  });
}

try {
  dp = await startLocalDataPlane({ reloadDelaySeconds: 0.5 });
  const client = dp.client;
  await client.transaction(async (tx) => {
    const q = { params: { query: tx.query } };
    await client.unwrap('default backend', client.api.POST('/services/haproxy/configuration/backends', { ...q, body: { name: 'ingressfed_default', mode: 'http' } }));
    await client.unwrap('404', client.api.POST('/services/haproxy/configuration/backends/{parent_name}/http_request_rules/{index}', {
      params: { path: { parent_name: 'ingressfed_default', index: 0 }, query: tx.query },
      body: { type: 'return', return_status_code: 404, return_content_type: 'text/plain', return_content_format: 'string', return_content: 'no route' },
    }));
    await client.unwrap('frontend', client.api.POST('/services/haproxy/configuration/frontends', { ...q, body: { name: 'ingressfed_http', mode: 'http', default_backend: 'ingressfed_default' } }));
    await client.unwrap('bind', client.api.POST('/services/haproxy/configuration/frontends/{parent_name}/binds', {
      params: { path: { parent_name: 'ingressfed_http' }, query: tx.query },
      body: { name: 'http', address: '127.0.0.1', port: httpPort },
    }));
  });
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  const info = {
    haproxyUrl: `http://127.0.0.1:${httpPort}`,
    dataplaneApi: { url: dp.url, username: dp.username, password: dp.password },
    haproxy: { workdir: dp.workdir, masterSocket: dp.masterSocket, statsSocket: dp.statsSocket },
  };
  writeFileSync(resolve(out, 'playground.json'), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  process.stdout.write(`HAProxy entry point: ${info.haproxyUrl}\nData Plane API:      ${dp.url}/v3 (user ${dp.username}, password in ${resolve(out, 'playground.json')})\n`);
  process.stdout.write(`ready ${resolve(out, 'playground.json')}\n`);
} catch (err) {
  process.stderr.write(`playground failed to start: ${(err as Error).message}\n`);
  await stopAll();
  process.exit(1);
}
