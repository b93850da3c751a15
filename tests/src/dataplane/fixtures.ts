import type { DataPlaneClient, TransactionScope } from '@ingressfed/dataplane';
import type { ProcState } from '@ingressfed/dataplane/local';

/** HAProxy's worker PIDs, sorted: the same PIDs mean no reload happened. */
export const workerPids = (s: ProcState): number[] => s.workers.map((w) => w.pid).sort();

/** Writes the usual test layout into a transaction: one frontend routing by host and path to two backends. */
export async function buildRoutingConfig(client: DataPlaneClient, tx: TransactionScope, opts: {
  bindPort: number;
  app: string[];
  api: string[];
}): Promise<void> {
  const q = { params: { query: tx.query } };
  const u = (op: string, p: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<unknown> => client.unwrap(op, p);
  await u('create be_default', client.api.POST('/services/haproxy/configuration/backends', { ...q, body: { name: 'be_default', mode: 'http' } }));
  await u('404 rule', client.api.POST('/services/haproxy/configuration/backends/{parent_name}/http_request_rules/{index}', {
    params: { path: { parent_name: 'be_default', index: 0 }, query: tx.query },
    body: { type: 'return', return_status_code: 404, return_content_type: 'text/plain', return_content_format: 'string', return_content: '"no route"' },
  }));
  for (const [name, endpoints] of [['be_app', opts.app], ['be_api', opts.api]] as const) {
    await u(`create ${name}`, client.api.POST('/services/haproxy/configuration/backends', {
      ...q,
      body: { name, mode: 'http', balance: { algorithm: 'roundrobin' }, retries: 2, redispatch: { enabled: 'enabled' } },
    }));
    for (const [i, ep] of endpoints.entries()) {
      const [address, port] = ep.split(':');
      await u(`server ${name}/s${i}`, client.api.POST('/services/haproxy/configuration/backends/{parent_name}/servers', {
        params: { path: { parent_name: name }, query: tx.query },
        body: { name: `s${i}`, address: address as string, port: Number(port), weight: 100 },
      }));
    }
  }
  await u('create fe_http', client.api.POST('/services/haproxy/configuration/frontends', {
    ...q,
    body: { name: 'fe_http', mode: 'http', default_backend: 'be_default', forwardfor: { enabled: 'enabled' } },
  }));
  await u('bind', client.api.POST('/services/haproxy/configuration/frontends/{parent_name}/binds', {
    params: { path: { parent_name: 'fe_http' }, query: tx.query },
    body: { name: 'http', address: '127.0.0.1', port: opts.bindPort },
  }));
  const acls = [
    { acl_name: 'host_app', criterion: 'req.hdr(host),field(1,:),lower', value: '-m str app.example.com' },
    { acl_name: 'path_api', criterion: 'path', value: '-m beg /api/' },
  ];
  await u('acls', client.api.PUT('/services/haproxy/configuration/frontends/{parent_name}/acls', {
    params: { path: { parent_name: 'fe_http' }, query: tx.query }, body: acls,
  }));
  await u('switching rules', client.api.PUT('/services/haproxy/configuration/frontends/{parent_name}/backend_switching_rules', {
    params: { path: { parent_name: 'fe_http' }, query: tx.query },
    body: [
      { name: 'be_api', cond: 'if', cond_test: 'host_app path_api' },
      { name: 'be_app', cond: 'if', cond_test: 'host_app' },
    ],
  }));
}
