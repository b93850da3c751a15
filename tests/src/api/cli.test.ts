import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// The `ingressfed` CLI against a running hub with two clusters.

const BIN = fileURLToPath(new URL('../../../hub/bin/ingressfed.mjs', import.meta.url));
const READ = 'cli-read-token-0123456789';
const ADMIN = 'cli-admin-token-0123456789';

describe('ingressfed CLI', { timeout: 180_000 }, () => {
  let fed: Federation;
  const cli = (args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> => new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, INGRESSFED_SERVER: fed.apiUrl ?? '', INGRESSFED_TOKEN: READ, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr }));
  });

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }], redis: true,
      api: { tokens: [{ name: 'reader', token: READ, role: 'read' }, { name: 'operator', token: ADMIN, role: 'admin' }] },
    });
    for (const [c, net] of [['alpha', 170], ['beta', 171]] as const) {
      const r = await fed.clusters.get(c)?.kube.kubectl(['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: `127.0.${net}.1` }]),
        ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }], { annotations: { 'ingressfed.io/failover': 'none' } })].join('\n---\n')}\n`);
      assert.equal(r?.code, 0, r?.stderr);
    }
    await waitFor('both clusters served', () => (fed.hub.currentModel()?.backends[0]?.endpoints.length ?? 0) === 2, { timeoutMs: 20_000 });
    await fed.hub.idle();
    await fed.echo.settled();
  });

  after(async () => {
    await fed?.stop();
  });

  it('get clusters prints a table, and -o json the API objects', async () => {
    const t = await cli(['get', 'clusters']);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /^NAME +ZONE +STATE +HEARTBEAT/);
    assert.match(t.out, /\nalpha +zone-a +live /);
    assert.match(t.out, /\nbeta +zone-b +live /);
    const j = await cli(['get', 'clusters', '-o', 'json']);
    assert.deepEqual((JSON.parse(j.out) as Array<{ name: string }>).map((c) => c.name), ['alpha', 'beta']);
  });

  for (const [what, header, row] of [
    ['routes', /^HOST +PATH +TYPE +BACKEND +SOURCES/, /web\.example\.test +\/ +Prefix +default\/web:80 +alpha\/default\/web,beta\/default\/web/],
    ['backends', /^BACKEND +FAILOVER +SERVERS +ENDPOINTS/, /default\/web:80 +none +2 +alpha\/zone-a\/127\.0\.170\.1:8080 beta\/zone-b\/127\.0\.171\.1:8080/],
    ['conflicts', /^HOST +PATH +TYPE +WINNER +LOSERS/, /^HOST/],
    ['edges', /^NAME +ZONE +VERSION +APPLIES +RELOADS/, /\nedge-a +zone-a +\d+ +\d+ +\d+/],
    ['drains', /^KIND +NAME +SINCE/, /^KIND/],
  ] as const) {
    it(`get ${what}`, async () => {
      const r = await cli(['get', what]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, header);
      assert.match(r.out, row);
    });
  }

  it('explain HOST/PATH says which route, backend and servers serve it', async () => {
    const r = await cli(['explain', 'web.example.test/anything']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /route: web\.example\.test Prefix \/ \(from alpha\/default\/web, beta\/default\/web\)/);
    assert.match(r.out, /backend: default\/web:80/);
    assert.match(r.out, /edge edge-a \(zone-a\): alpha\/zone-a\/127\.0\.170\.1:8080 primary, beta\/zone-b\/127\.0\.171\.1:8080 primary/);
    const none = await cli(['explain', 'nobody.example/x']);
    assert.match(none.out, /route: none; answered 404/);
  });

  it('drain and undrain a zone with an admin token; the zone receives no new requests meanwhile', async () => {
    const refused = await cli(['drain', 'zone', 'zone-b']);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /this needs an admin token/);
    const d = await cli(['drain', 'zone', 'zone-b'], { INGRESSFED_TOKEN: ADMIN });
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /zone zone-b draining/);
    await waitFor('drain complete', async () => /\nzone +zone-b .* yes\n/.test((await cli(['get', 'drains'])).out), { timeoutMs: 15_000 });
    for (let i = 0; i < 8; i++) assert.equal((await httpRequest(`${fed.edges[0]?.url}/`, { host: 'web.example.test' })).json<EchoReply>().cluster, 'alpha');
    const u = await cli(['undrain', 'zone', 'zone-b'], { INGRESSFED_TOKEN: ADMIN });
    assert.equal(u.code, 0, u.err);
    assert.match(u.out, /zone zone-b undrained/);
  });

  it('reports errors helpfully: no token, unknown command, unreachable hub, unknown cluster', async () => {
    const noToken = await cli(['get', 'clusters'], { INGRESSFED_TOKEN: '' });
    assert.equal(noToken.code, 1);
    assert.match(noToken.err, /give --token or set INGRESSFED_TOKEN/);
    const bad = await cli(['frobnicate']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown command frobnicate/);
    const what = await cli(['get', 'pods']);
    assert.equal(what.code, 2);
    const down = await cli(['get', 'clusters', '--server', 'http://127.0.0.1:1']);
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach the hub at http:\/\/127\.0\.0\.1:1/);
    const unknown = await cli(['drain', 'cluster', 'nowhere'], { INGRESSFED_TOKEN: ADMIN });
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /cluster nowhere not found/);
  });
});
