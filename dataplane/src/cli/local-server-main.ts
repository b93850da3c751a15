// ingressfed-dataplane-local: a local HAProxy Data Plane API v3 server that owns a real HAProxy.
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseCommandLine, stopOnSignals, usageError } from '@ingressfed/schemas/cli';
import { pino } from 'pino';
import { LocalDataPlaneServer } from '../local/server.js';

const USAGE = `usage: ingressfed-dataplane-local --workdir DIR [options]

  --listen HOST:PORT        address of the API (default 127.0.0.1:5555; port 0 picks a free one)
  --workdir DIR             where haproxy.cfg, transactions and sockets live (required)
  --maps-dir DIR            where map files are stored (default WORKDIR/maps)
  --user NAME               Basic auth user (default admin)
  --password PASS           Basic auth password (or env INGRESSFED_DPAPI_PASSWORD; required)
  --haproxy-bin PATH        HAProxy binary (default haproxy)
  --reload-delay SECONDS    minimum time between reloads; changes within it share one (default 5)
  --max-open-transactions N (default 20)
  --bind-allow CIDR         network HAProxy binds may use; repeatable (default 127.0.0.0/8 and ::1)
  --haproxy-log             HAProxy's HTTP log of every request in this server's output
  --validate-cmd CMD        run after haproxy -c on every configuration (sh -c, with
                            DATAPLANEAPI_TRANSACTION_FILE naming it); non-zero refuses it
  --tls-cert FILE           PEM certificate (chain) of the API: it is served over HTTPS
  --tls-key FILE            PEM key of that certificate (both or neither)
`;

function fail(msg: string): never {
  return usageError('ingressfed-dataplane-local', USAGE, msg);
}

/** The PEM texts of --tls-cert and --tls-key, read now so a bad file stops the start. */
function readTls(certFile: string | undefined, keyFile: string | undefined): { cert: string; key: string } | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) fail('--tls-cert and --tls-key go together: give both, or neither');
  const read = (flag: string, file: string): string => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      return fail(`${flag} ${file}: cannot read it: ${(err as Error).message}`);
    }
    return text.includes('-----BEGIN ') ? text : fail(`${flag} ${file}: not a PEM file`);
  };
  return { cert: read('--tls-cert', certFile), key: read('--tls-key', keyFile) };
}

function parseBindAllow(values: string[] | undefined): BlockList {
  const list = new BlockList();
  for (const cidr of values && values.length > 0 ? values : ['127.0.0.0/8', '::1/128']) {
    const [addr, bits] = cidr.split('/');
    const family = isIP(addr ?? '');
    const prefix = Number(bits ?? (family === 6 ? 128 : 32));
    if (family === 0 || !Number.isInteger(prefix)) fail(`--bind-allow ${cidr} is not a CIDR`);
    list.addSubnet(addr as string, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

const values = parseCommandLine('ingressfed-dataplane-local', USAGE, {
  listen: { type: 'string', default: '127.0.0.1:5555' },
  workdir: { type: 'string' },
  'maps-dir': { type: 'string' },
  'ssl-certs-dir': { type: 'string' },
  user: { type: 'string', default: 'admin' },
  password: { type: 'string' },
  'haproxy-bin': { type: 'string', default: 'haproxy' },
  'reload-delay': { type: 'string', default: '5' },
  'max-open-transactions': { type: 'string', default: '20' },
  'bind-allow': { type: 'string', multiple: true },
  'haproxy-log': { type: 'boolean', default: false },
  'validate-cmd': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
});
if (!values.workdir) fail('--workdir is required');
const password = values.password ?? process.env.INGRESSFED_DPAPI_PASSWORD;
if (!password) fail('--password or INGRESSFED_DPAPI_PASSWORD is required');
const m = /^(.*):(\d+)$/.exec(values.listen);
if (!m) fail(`--listen ${values.listen} is not HOST:PORT`);
const reloadDelay = Number(values['reload-delay']);
if (!Number.isFinite(reloadDelay) || reloadDelay < 0) fail('--reload-delay must be a number of seconds');
const maxOpen = Number(values['max-open-transactions']);
if (!Number.isInteger(maxOpen) || maxOpen < 1) fail('--max-open-transactions must be a positive integer');
const tls = readTls(values['tls-cert'], values['tls-key']);

const logger = pino({ name: 'ingressfed-dataplane-local' });
const server = new LocalDataPlaneServer({
  host: (m[1] as string).replace(/^\[|\]$/g, ''),
  port: Number(m[2]),
  user: values.user,
  password,
  workdir: resolve(values.workdir),
  mapsDir: values['maps-dir'] === undefined ? undefined : resolve(values['maps-dir']),
  sslCertsDir: values['ssl-certs-dir'] === undefined ? undefined : resolve(values['ssl-certs-dir']),
  haproxyBin: values['haproxy-bin'],
  reloadDelayMs: Math.round(reloadDelay * 1000),
  maxOpenTransactions: maxOpen,
  validateCmd: values['validate-cmd'],
  bindAllow: parseBindAllow(values['bind-allow']),
  haproxyHttpLog: values['haproxy-log'],
  tls,
  log: (level, msg, fields) => logger[level](fields ?? {}, msg),
});

process.on('exit', () => server.svc.haproxy.killNow());
stopOnSignals(() => server.stop(), (signal) => logger.info({ signal }, 'stopping'));

try {
  const { url } = await server.start();
  logger.info({ url, workdir: resolve(values.workdir), haproxyPid: server.svc.haproxy.pid }, 'listening');
} catch (err) {
  logger.error({ error: (err as Error).message }, 'cannot start');
  await server.stop().catch(() => undefined);
  process.exit(1);
}
