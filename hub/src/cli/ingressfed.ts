// ingressfed: the operator CLI of the hub API.
import { parseArgs } from 'node:util';

const USAGE = `usage: ingressfed [--server URL] [--token TOKEN] [-o table|json] COMMAND

  get clusters|routes|backends|conflicts|edges|certificates|drains
  explain HOST/PATH                 which route, backend and servers serve it now
  drain cluster|zone NAME           no new requests to it; servers leave once idle (admin token)
  undrain cluster|zone NAME         (admin token)

  --server URL    the hub API (env INGRESSFED_SERVER, default http://127.0.0.1:9090)
  --token TOKEN   a bearer token (env INGRESSFED_TOKEN)
  -o FORMAT       table (default) or json
`;

type Row = Record<string, unknown>;

function usage(message: string): never {
  process.stderr.write(`ingressfed: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { server: { type: 'string' }, token: { type: 'string' }, output: { type: 'string', short: 'o', default: 'table' }, help: { type: 'boolean', short: 'h', default: false } },
  });
} catch (err) {
  usage((err as Error).message);
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (values.output !== 'table' && values.output !== 'json') usage(`-o ${values.output}: use table or json`);
const server = (values.server ?? process.env.INGRESSFED_SERVER ?? 'http://127.0.0.1:9090').replace(/\/+$/, '');
const token = values.token ?? process.env.INGRESSFED_TOKEN;

async function call(method: string, path: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${server}${path}`, { method, headers: token ? { Authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    process.stderr.write(`ingressfed: cannot reach the hub at ${server}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}\n`);
    process.exit(1);
  }
  if (res.status === 204) return undefined;
  const body = await res.json().catch(() => ({})) as { code?: string; message?: string };
  if (!res.ok) {
    const hint = res.status === 401 ? ' (give --token or set INGRESSFED_TOKEN)' : res.status === 403 ? ' (this needs an admin token)' : '';
    process.stderr.write(`ingressfed: ${body.message ?? res.statusText}${hint} [${body.code ?? res.status}]\n`);
    process.exit(1);
  }
  return body;
}

function table(rows: Row[], columns: Array<[string, (r: Row) => unknown]>): string {
  const cells = rows.map((r) => columns.map(([, f]) => {
    const v = f(r);
    return v === null || v === undefined || v === '' ? '-' : String(v);
  }));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(columns.map(([h]) => h)), ...cells.map(line)].join('\n') + '\n';
}

const R = (r: Row, k: string): Row => (r[k] ?? {}) as Row;
/** An Ingress as cluster/namespace/name. */
const ref = (s: Row): string => `${String(s.cluster)}/${String(s.namespace)}/${String(s.name)}`;
const COLUMNS: Record<string, Array<[string, (r: Row) => unknown]>> = {
  clusters: [['NAME', (r) => r.name], ['ZONE', (r) => r.zone], ['STATE', (r) => r.state], ['HEARTBEAT', (r) => (typeof r.heartbeatAgeMs === 'number' ? `${(r.heartbeatAgeMs / 1000).toFixed(1)}s ago` : null)],
    ['INGRESSES', (r) => R(r, 'objects').ingresses], ['SERVICES', (r) => R(r, 'objects').services], ['REFUSED', (r) => (r.refused as unknown[]).length], ['DRAINED', (r) => (r.drained ? 'yes' : 'no')]],
  routes: [['HOST', (r) => r.host || '*'], ['PATH', (r) => r.path], ['TYPE', (r) => r.pathType], ['BACKEND', (r) => r.backend],
    ['SOURCES', (r) => (r.sources as Row[]).map(ref).join(',')]],
  backends: [['BACKEND', (r) => r.id], ['FAILOVER', (r) => r.failover], ['SERVERS', (r) => (r.servers as Row[]).length],
    ['ENDPOINTS', (r) => (r.servers as Row[]).map((s) => `${s.cluster}/${s.zone ?? '-'}/${s.address}:${s.port}${s.ready ? '' : '(not ready)'}`).join(' ')]],
  conflicts: [['HOST', (r) => r.host || '*'], ['PATH', (r) => r.path], ['TYPE', (r) => r.pathType], ['WINNER', (r) => ref(R(r, 'winner'))],
    ['LOSERS', (r) => (r.losers as Row[]).map(ref).join(',')]],
  edges: [['NAME', (r) => r.name], ['ZONE', (r) => r.zone], ['VERSION', (r) => r.configurationVersion], ['APPLIES', (r) => r.applies], ['RELOADS', (r) => r.reloads],
    ['LAST APPLY', (r) => R(r, 'lastApply').at], ['ERROR', (r) => r.lastError]],
  certificates: [['CLUSTER', (r) => r.cluster], ['SECRET', (r) => `${String(r.namespace)}/${String(r.name)}`], ['STATE', (r) => r.state], ['NAMES', (r) => (r.dnsNames as string[]).join(',')],
    ['NOT AFTER', (r) => r.notAfter], ['DAYS', (r) => (r.expiringSoon ? `${String(r.expiresInDays)} (soon)` : r.expiresInDays)],
    ['USED BY', (r) => (r.usedBy as Row[]).map((u) => u.ingress).join(',')], ['PROBLEM', (r) => r.problem]],
  drains: [['KIND', (r) => r.kind], ['NAME', (r) => r.name], ['SINCE', (r) => r.since], ['DRAINING', (r) => (r.draining as unknown[]).length],
    ['SESSIONS', (r) => (r.draining as Row[]).reduce((n, d) => n + (typeof d.sessions === 'number' ? d.sessions : 0), 0)], ['COMPLETE', (r) => (r.complete ? 'yes' : 'no')]],
};

const out = (data: unknown, text: () => string): void => {
  process.stdout.write(values.output === 'json' ? `${JSON.stringify(data, null, 2)}\n` : text());
};

const [cmd, a, b] = positionals;
if (cmd === 'get') {
  if (!a || !(a in COLUMNS)) usage(`get what? one of ${Object.keys(COLUMNS).join(', ')}`);
  const body = await call('GET', `/api/v1/${a}`) as { items: Row[] };
  out(body.items, () => table(body.items, COLUMNS[a] ?? []));
} else if (cmd === 'explain') {
  if (!a) usage('explain needs HOST/PATH, e.g. web.example.test/api');
  const slash = a.indexOf('/');
  const host = slash < 0 ? a : a.slice(0, slash);
  const path = slash < 0 ? '/' : a.slice(slash);
  const e = await call('GET', `/api/v1/explain?host=${encodeURIComponent(host)}&path=${encodeURIComponent(path)}`) as Row;
  out(e, () => {
    const route = e.route as Row | null;
    const lines = [
      `host ${host}, path ${path}`,
      route ? `route: ${route.host || '*'} ${route.pathType} ${route.path} (from ${(route.sources as Row[]).map(ref).join(', ')})`
        : e.matchedBy === 'default-backend' ? 'route: none; the default backend serves it' : 'route: none; answered 404',
      `backend: ${e.backend ?? '-'}`,
      ...(e.edges as Row[]).map((edge) => `edge ${edge.edge} (${edge.zone}): ${(edge.servers as Row[]).map((s) => `${s.cluster}/${s.zone ?? '-'}/${s.address}:${s.port} ${s.role}`).join(', ') || 'no server ready'}`),
    ];
    return `${lines.join('\n')}\n`;
  });
} else if (cmd === 'drain' || cmd === 'undrain') {
  if ((a !== 'cluster' && a !== 'zone') || !b) usage(`${cmd} cluster NAME | ${cmd} zone NAME`);
  const r = await call(cmd === 'drain' ? 'PUT' : 'DELETE', `/api/v1/drains/${a}/${encodeURIComponent(b)}`);
  out(r ?? { kind: a, name: b, drained: false }, () => `${a} ${b} ${cmd === 'drain' ? 'draining: no new requests; its servers leave once idle (see: ingressfed get drains)' : 'undrained'}\n`);
} else {
  usage(cmd ? `unknown command ${cmd}` : 'a command is needed');
}
