import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { httpRequest, runLoad, startFederation, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// The hub API against a running hub with two clusters.

const READ = 'read-token-0123456789abcdef';
const ADMIN = 'admin-token-0123456789abcdef';

describe('hub API: every route, with auth and errors', { timeout: 240_000 }, () => {
  let fed: Federation;
  let api: string;
  let edge: string;
  const get = async (path: string, token: string | null = READ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> => {
    const res = await fetch(`${api}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
  };
  const send = async (method: string, path: string, token = ADMIN): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${api}${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
  };
  const items = async (path: string): Promise<Array<Record<string, unknown>>> => (await get(path)).body.items as Array<Record<string, unknown>>;
  const kubectl = (cluster: string, args: string[], input?: string): Promise<string> => fed.kubectl(cluster, args, input);

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }], redis: true,
      api: { tokens: [{ name: 'reader', token: READ, role: 'read' }, { name: 'operator', token: ADMIN, role: 'admin' }] },
    });
    api = fed.apiUrl as string;
    edge = fed.edges[0]?.url as string;
    for (const [c, net] of [['alpha', 160], ['beta', 161]] as const) {
      await kubectl(c, ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: `127.0.${net}.1` }, { address: `127.0.${net}.2` }]),
        service('api'), endpointSlice('api', [{ address: `127.0.${net}.10` }]),
        ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }, { path: '/api', service: 'api' }] }], { annotations: { 'ingressfed.io/failover': 'none' } })].join('\n---\n')}\n`);
    }
    await waitFor('both clusters routed', async () => (await items('/api/v1/backends')).every((b) => (b.servers as unknown[]).length >= 2) && (await items('/api/v1/backends')).length === 2, { timeoutMs: 20_000 });
    await fed.hub.idle();
    await fed.echo.settled();
  });

  after(async () => {
    await fed?.stop();
  });

  it('answers /healthz and /readyz without a token', async () => {
    assert.deepEqual((await get('/healthz', null)).body, { status: 'ok' });
    assert.deepEqual((await get('/readyz', null)).body, { status: 'ready' });
  });

  it('refuses a missing token (401), an unknown token (401) and a read token on admin actions (403), revealing nothing', async () => {
    const none = await get('/api/v1/clusters', null);
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'INGRESSFED_ERR_API_UNAUTHENTICATED');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const wrong = await get('/api/v1/clusters', 'not-a-token');
    assert.equal(wrong.status, 401);
    const forbidden = await send('PUT', '/api/v1/drains/cluster/alpha', READ);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.code, 'INGRESSFED_ERR_API_FORBIDDEN');
    for (const r of [none, wrong, forbidden]) {
      const text = JSON.stringify(r.body);
      assert.ok(!text.includes(READ) && !text.includes(ADMIN) && !/\/tmp|\/work|node_modules|at .*\.ts/.test(text), text);
    }
    assert.equal((await get('/metrics', null)).status, 401);
  });

  it('F29: answers bad queries (path traversal in names, unknown kinds, oversized parameters) with 4xx and a clear error, revealing nothing', async () => {
    const bad: Array<[string, string, string]> = [
      ['GET', '/api/v1/clusters/..%2f..%2fetc%2fpasswd', READ],
      ['GET', '/api/v1/clusters/%2e%2e', READ],
      ['GET', `/api/v1/clusters/${'a'.repeat(5000)}`, READ],
      ['GET', '/api/v1/routes?host=..%2f..%2fetc', READ],
      ['GET', `/api/v1/explain?host=web.example.test&path=${'/x'.repeat(3000)}`, READ],
      ['GET', '/api/v1/explain?host=%00&path=/', READ],
      ['PUT', '/api/v1/drains/cluster/..%2f..%2fetc', ADMIN],
      ['PUT', '/api/v1/drains/namespace/alpha', ADMIN],
      ['DELETE', '/api/v1/drains/zone/%2e%2e', ADMIN],
    ];
    for (const [method, path, token] of bad) {
      const r = method === 'GET' ? await get(path, token) : await send(method, path, token);
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${path.slice(0, 60)} → ${r.status}`);
      assert.equal(typeof r.body.code, 'string', `${method} ${path.slice(0, 60)}: a catalogue code`);
      assert.match(String(r.body.message), /\S/, 'a message');
      const text = JSON.stringify(r.body);
      assert.ok(!text.includes(READ) && !text.includes(ADMIN) && !/\/tmp|\/work|\/etc\/passwd|node_modules|at .*\.ts/.test(text), `${method} ${path.slice(0, 60)}: ${text.slice(0, 300)}`);
    }
    // Nothing was drained by any of them.
    assert.deepEqual((await items('/api/v1/drains')), []);
  });

  it('lists clusters with zone, state, heartbeat and objects; 404 for an unknown one', async () => {
    const cs = await items('/api/v1/clusters');
    assert.deepEqual(cs.map((c) => [c.name, c.zone, c.state]), [['alpha', 'zone-a', 'live'], ['beta', 'zone-b', 'live']]);
    assert.deepEqual((cs[0]?.objects as Record<string, number>), { ingressClasses: 1, ingresses: 1, services: 2, endpoints: 2 });
    assert.equal(typeof cs[0]?.heartbeatAgeMs, 'number');
    const one = await get('/api/v1/clusters/beta');
    assert.equal(one.body.zone, 'zone-b');
    const missing = await get('/api/v1/clusters/nowhere');
    assert.equal(missing.status, 404);
    assert.match(String(missing.body.message), /cluster nowhere not found/);
    assert.equal((await get('/api/v1/clusters/Bad_Name')).status, 400);
  });

  it('lists routes (optionally of one host) with their source Ingresses; bad query parameters get 400', async () => {
    const rs = await items('/api/v1/routes?host=web.example.test');
    assert.deepEqual(rs.map((r) => [r.path, r.pathType, r.backend]), [['/', 'Prefix', 'default/web:80'], ['/api', 'Prefix', 'default/api:80']]);
    assert.deepEqual((rs[0]?.sources as Array<Record<string, string>>).map((s) => s.cluster), ['alpha', 'beta']);
    assert.deepEqual(await items('/api/v1/routes?host=none.example'), []);
    const bad = await get('/api/v1/routes?host=a%20b');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'INGRESSFED_ERR_API_BAD_REQUEST');
  });

  it('lists backends with servers per cluster and zone, and their role and state on each edge', async () => {
    // Health is HAProxy's: known once the hub has read the slots back (between applies).
    const web = await waitFor('the servers\' health read back', async () => {
      const b = (await items('/api/v1/backends')).find((x) => x.id === 'default/web:80');
      const first = (b?.servers as Array<{ edges: Array<{ health: unknown }> }> | undefined)?.[0];
      return first?.edges[0]?.health ? b : undefined;
    }, { timeoutMs: 10_000 });
    const servers = web?.servers as Array<Record<string, unknown>>;
    assert.deepEqual(servers.map((s) => `${s.cluster}/${s.zone}/${s.address}`), ['alpha/zone-a/127.0.160.1', 'alpha/zone-a/127.0.160.2', 'beta/zone-b/127.0.161.1', 'beta/zone-b/127.0.161.2']);
    assert.deepEqual((servers[0]?.edges as Array<Record<string, unknown>>).map((e) => [e.edge, e.role, e.state, e.weight, e.health]), [['edge-a', 'primary', 'ready', 1, 'up']]);
    assert.equal(web?.failover, 'none');
  });

  it('lists edges with configuration version, applies and reloads', async () => {
    const [e] = await items('/api/v1/edges');
    assert.equal(e?.name, 'edge-a');
    assert.equal(typeof e?.configurationVersion, 'number');
    assert.ok(Number(e?.applies) > 0 && Number(e?.reloads) > 0);
    assert.equal(e?.lastError, null);
    assert.equal((e?.lastReload as Record<string, string>).status, 'succeeded');
    assert.match(String((e?.lastReload as Record<string, string>).id), /^\d{4}-\d{2}-\d{2}-\d+$/);
  });

  it('explains where a host and path go, in agreement with real requests through HAProxy', async () => {
    const cases: Array<[string, string]> = [['web.example.test', '/'], ['web.example.test', '/api/x'], ['WEB.example.test:80', '/apix'], ['other.example', '/']];
    for (const [host, path] of cases) {
      const e = (await get(`/api/v1/explain?host=${encodeURIComponent(host)}&path=${encodeURIComponent(path)}`)).body;
      const served = new Set<string>();
      let status = 200;
      for (let i = 0; i < 8; i++) {
        const r = await httpRequest(`${edge}${path}`, { host });
        status = r.status;
        if (r.status === 200) served.add(`${r.json<EchoReply>().service}@${r.json<EchoReply>().endpoint}`);
      }
      if (e.backend === null) {
        assert.equal(status, 404, `${host}${path}`);
        continue;
      }
      const servers = ((e.edges as Array<Record<string, unknown>>)[0]?.servers as Array<Record<string, unknown>>).map((s) => `${String(e.backend).split('/')[1]?.split(':')[0]}@${s.address}:${s.port}`);
      assert.deepEqual([...served].sort(), servers.sort(), `${host}${path}: explain and traffic agree`);
    }
    assert.equal((await get('/api/v1/explain?host=x.example')).status, 400, 'path is required');
  });

  it('lists conflicts with winner and losers', async () => {
    await kubectl('beta', ['create', '-f', '-'], ingress('grab', [{ host: 'web.example.test', paths: [{ path: '/api', service: 'web' }] }]));
    const c = await waitFor('the conflict', async () => (await items('/api/v1/conflicts'))[0]);
    assert.deepEqual([c.host, c.path, (c.winner as Record<string, string>).cluster, (c.losers as Array<Record<string, string>>)[0]?.name], ['web.example.test', '/api', 'alpha', 'grab']);
    await kubectl('beta', ['delete', 'ingress', 'grab']);
  });

  it('streams model and apply events', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${api}/api/v1/events`, { headers: { Authorization: `Bearer ${READ}` }, signal: ctl.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    await kubectl('alpha', ['replace', '-f', '-'], endpointSlice('web', [{ address: '127.0.160.1' }, { address: '127.0.160.2' }, { address: '127.0.160.3' }]));
    await waitFor('a model and an apply event', async () => {
      const { value } = await reader.read();
      text += Buffer.from(value ?? new Uint8Array()).toString();
      return text.includes('event: model') && text.includes('event: apply');
    }, { timeoutMs: 10_000, intervalMs: 1 });
    ctl.abort();
  });

  it('serves Prometheus metrics', async () => {
    const res = await fetch(`${api}/metrics`, { headers: { Authorization: `Bearer ${READ}` } });
    const text = await res.text();
    for (const m of ['ingressfed_clusters{state="live"} 2', 'ingressfed_routes 2', 'ingressfed_conflicts', 'ingressfed_refused_records', 'ingressfed_apply_duration_seconds_bucket',
      'ingressfed_reloads_total', 'ingressfed_propagation_seconds_count', 'ingressfed_leader 1', 'ingressfed_edge_errors_total']) {
      assert.ok(text.includes(m), `metrics include ${m}`);
    }
  });

  it('serves a valid OpenAPI document that lists every route', async () => {
    const doc = (await get('/openapi.json', null)).body;
    await SwaggerParser.validate(structuredClone(doc) as never);
    const paths = Object.keys(doc.paths as object).sort();
    assert.deepEqual(paths, ['/api/v1/backends', '/api/v1/certificates', '/api/v1/clusters', '/api/v1/clusters/{name}', '/api/v1/conflicts', '/api/v1/drains', '/api/v1/drains/{kind}/{name}',
      '/api/v1/edges', '/api/v1/events', '/api/v1/explain', '/api/v1/hub', '/api/v1/routes', '/api/v1/state', '/healthz', '/metrics', '/readyz']);
    for (const p of paths.filter((x) => x.startsWith('/api/'))) {
      const op = (doc.paths as Record<string, Record<string, unknown>>)[p];
      for (const m of Object.keys(op ?? {})) {
        const path = p.replace('{name}', 'alpha').replace('{kind}', 'cluster');
        const r = m === 'get' && !p.includes('events') ? await get(path) : undefined;
        if (r) assert.notEqual(r.status, 404, `${m.toUpperCase()} ${p} is served`);
      }
    }
  });

  it('drains a cluster: no new requests reach it while the others keep serving; undrain brings it back', async () => {
    const d = await send('PUT', '/api/v1/drains/cluster/beta');
    assert.equal(d.status, 200, JSON.stringify(d.body));
    await waitFor('the drain complete (no session left)', async () => {
      const [x] = await items('/api/v1/drains');
      return x?.complete === true;
    }, { timeoutMs: 15_000 });
    const load = await runLoad({ url: `${edge}/`, host: 'web.example.test', concurrency: 4, durationMs: 1000 });
    assert.equal(load.failed, 0);
    assert.deepEqual([...new Set(load.results.map((r) => r.cluster))], ['alpha'], 'a drained cluster receives no new requests');
    const c = (await get('/api/v1/clusters/beta')).body;
    assert.equal(c.drained, true);
    assert.equal((await send('PUT', '/api/v1/drains/zone/nowhere')).status, 404);
    assert.equal((await send('DELETE', '/api/v1/drains/cluster/beta')).status, 204);
    assert.equal((await send('DELETE', '/api/v1/drains/cluster/beta')).status, 404);
    await waitFor('beta serving again', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) seen.add(String((await httpRequest(`${edge}/`, { host: 'web.example.test' })).json<EchoReply>().cluster));
      return seen.has('beta');
    }, { timeoutMs: 10_000 });
  });
});
