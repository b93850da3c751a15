import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  freePort, httpRequest, startEchoServer, startLocalDataPlane, waitFor,
  type EchoServer, type LocalDataPlane,
} from '@ingressfed/tests/harness';
import { buildRoutingConfig } from './fixtures.js';

// Invalid requests and invalid configurations are refused with 400 and a clear {code, message};
// HAProxy keeps serving the last good configuration.

interface Raw { status: number; json: Record<string, unknown>; text: string }

async function raw(dp: LocalDataPlane, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Raw> {
  const res = await fetch(`${dp.url}${path}`, {
    method,
    headers: { Authorization: `Basic ${Buffer.from(`${dp.username}:${dp.password}`).toString('base64')}`, 'Content-Type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = {};
  }
  return { status: res.status, json, text };
}

describe('dataplane: invalid input is refused clearly and HAProxy keeps serving', { timeout: 90_000 }, () => {
  let dp: LocalDataPlane;
  let app: EchoServer;
  let port: number;
  const base = (): string => `http://127.0.0.1:${port}`;

  before(async () => {
    dp = await startLocalDataPlane();
    app = await startEchoServer('127.0.0.4', { service: 'app' });
    port = await freePort();
    await dp.client.transaction((tx) => buildRoutingConfig(dp.client, tx, { bindPort: port, app: [app.endpoint], api: [app.endpoint] }));
    await waitFor('route live', async () => (await httpRequest(`${base()}/`, { host: 'app.example.com' })).status === 200);
  });
  after(async () => {
    await dp?.stop();
    await app?.stop();
  });

  // Bodies that fail the API's schema answer 422, as dataplaneapi v3.4 does; malformed JSON answers 400.
  const invalidBodies: Array<[string, string, string, RegExp, number]> = [
    ['a wrong type', '/v3/services/haproxy/configuration/backends', JSON.stringify({ name: 'be_x', retries: 'three' }), /body\/retries: must be integer/, 422],
    ['an unknown enum value', '/v3/services/haproxy/configuration/backends', JSON.stringify({ name: 'be_x', mode: 'udp' }), /body\/mode: must be one of http, tcp, log/, 422],
    ['a bad name pattern', '/v3/services/haproxy/configuration/backends', JSON.stringify({ name: 'be x' }), /body\/name: must match/, 422],
    ['an unknown field', '/v3/services/haproxy/configuration/backends', JSON.stringify({ name: 'be_x', snippet: 'x' }), /unknown field 'snippet'/, 422],
    ['a missing required field', '/v3/services/haproxy/configuration/backends', JSON.stringify({ mode: 'http' }), /must have required property 'name'/, 422],
    ['a port out of range', '/v3/services/haproxy/configuration/backends/be_app/servers', JSON.stringify({ name: 's9', address: '127.0.0.9', port: 70000 }), /body\/port: must be <= 65535/, 422],
    ['malformed JSON', '/v3/services/haproxy/configuration/backends', '{"name": ', /not valid JSON/, 400],
    ['a newline inside a value', '/v3/services/haproxy/configuration/frontends/fe_http/acls/0', JSON.stringify({ acl_name: 'x', criterion: 'path', value: '/a\nglobal' }), /body\/value contains a control character/, 422],
  ];

  for (const [what, path, body, message, status] of invalidBodies) {
    it(`answers ${status} with a clear message for ${what}, and changes nothing`, async () => {
      const v = await dp.client.getVersion();
      const r = await raw(dp, 'POST', `${path}?version=${v}`, body);
      assert.equal(r.status, status, r.text);
      assert.deepEqual(Object.keys(r.json).sort(), ['code', 'message']);
      assert.equal(r.json.code, status);
      assert.match(String(r.json.message), message);
      assert.equal(await dp.client.getVersion(), v, 'the version did not move');
    });
  }

  it('answers 400 on bad query parameters', async () => {
    const r = await raw(dp, 'POST', '/v3/services/haproxy/transactions?version=abc');
    assert.equal(r.status, 400);
    assert.match(String(r.json.message), /parameter version in query must be an integer/);
    const s = await raw(dp, 'GET', '/v3/services/haproxy/transactions?status=outdated');
    assert.equal(s.status, 400, 'the spec enum omits outdated, as dataplaneapi does');
  });

  it('F21: refuses a configuration that haproxy -c rejects with 400, marks the transaction failed, and keeps serving', async () => {
    const v = await dp.client.getVersion();
    const reloadsBefore = (await dp.procState()).master.reloads;
    const tx = await dp.client.startTransaction(v);
    const id = tx.id as string;
    // Valid for the spec (criterion is any non-blank word), invalid for HAProxy: an unknown fetch.
    const w = await raw(dp, 'POST', `/v3/services/haproxy/configuration/frontends/fe_http/acls/0?transaction_id=${id}`,
      JSON.stringify({ acl_name: 'bad', criterion: 'no_such_fetch', value: 'x' }));
    assert.equal(w.status, 202);
    const c = await raw(dp, 'PUT', `/v3/services/haproxy/transactions/${id}`);
    assert.equal(c.status, 400);
    assert.match(String(c.json.message), /^validation error: .*transactionId=/);
    assert.match(String(c.json.message), /no_such_fetch/);
    assert.equal((await raw(dp, 'GET', `/v3/services/haproxy/transactions/${id}`)).json.status, 'failed');
    const again = await raw(dp, 'PUT', `/v3/services/haproxy/transactions/${id}`);
    assert.equal(again.status, 406, 'a failed transaction cannot be committed');
    assert.equal(await dp.client.getVersion(), v);
    assert.equal((await dp.procState()).master.reloads, reloadsBefore, 'HAProxy was not reloaded');
    const r = await httpRequest(`${base()}/`, { host: 'app.example.com' });
    assert.equal(r.status, 200, 'HAProxy keeps serving');
    await dp.client.deleteTransaction(id);
  });

  it('refuses a use_backend to a backend that does not exist (haproxy -c) and keeps serving', async () => {
    const v = await dp.client.getVersion();
    const r = await raw(dp, 'POST', `/v3/services/haproxy/configuration/frontends/fe_http/backend_switching_rules/0?version=${v}`,
      JSON.stringify({ name: 'be_missing', cond: 'if', cond_test: 'TRUE' }));
    assert.equal(r.status, 400);
    assert.match(String(r.json.message), /be_missing/);
    assert.equal(await dp.client.getVersion(), v);
    assert.equal((await httpRequest(`${base()}/`, { host: 'app.example.com' })).status, 200);
  });

  it('reports a reload that HAProxy refuses as failed, restores the last good configuration and keeps serving', async () => {
    // Passes haproxy -c (which does not bind) but fails at reload: the port is already taken.
    const blocker = await startEchoServer('127.0.0.1');
    try {
      const v = await dp.client.getVersion();
      const w = await raw(dp, 'POST', `/v3/services/haproxy/configuration/frontends/fe_http/binds?version=${v}`,
        JSON.stringify({ name: 'taken', address: '127.0.0.1', port: blocker.port }));
      assert.equal(w.status, 202);
      const reloadId = (await fetch(`${dp.url}/v3/services/haproxy/reloads`, {
        headers: { Authorization: `Basic ${Buffer.from(`${dp.username}:${dp.password}`).toString('base64')}` },
      }).then((x) => x.json()) as Array<{ id: string }>).at(-1)?.id as string;
      const reload = await waitFor('the reload to finish', async () => {
        const r = await raw(dp, 'GET', `/v3/services/haproxy/reloads/${reloadId}`);
        return r.json.status === 'in_progress' ? undefined : r.json;
      }, { timeoutMs: 20_000 });
      assert.equal(reload.status, 'failed');
      assert.ok(String(reload.response).length > 0, 'the failure carries HAProxy output');
      assert.equal(await dp.client.getVersion(), v, 'the last good configuration (and its version) is restored');
      const binds = await raw(dp, 'GET', '/v3/services/haproxy/configuration/frontends/fe_http/binds');
      assert.ok(!(binds.json as unknown as Array<{ name: string }>).some((b) => b.name === 'taken'));
      assert.equal((await httpRequest(`${base()}/`, { host: 'app.example.com' })).status, 200, 'HAProxy keeps serving');
    } finally {
      await blocker.stop();
    }
  });

  it('refuses binds outside loopback', async () => {
    const v = await dp.client.getVersion();
    const r = await raw(dp, 'POST', `/v3/services/haproxy/configuration/frontends/fe_http/binds?version=${v}`,
      JSON.stringify({ name: 'public', address: '0.0.0.0', port: 8080 }));
    assert.equal(r.status, 400);
    assert.match(String(r.json.message), /not an IP address this server may bind/);
  });

  it('answers 501 for fields and operations it cannot serve, 404 for unknown paths, 401 without credentials', async () => {
    const v = await dp.client.getVersion();
    const f = await raw(dp, 'POST', `/v3/services/haproxy/configuration/backends?version=${v}`, JSON.stringify({ name: 'be_c', cookie: { name: 'SRV' } }));
    assert.equal(f.status, 501);
    assert.match(String(f.json.message), /backend\.cookie/);
    const op = await raw(dp, 'GET', '/v3/services/haproxy/configuration/global');
    assert.equal(op.status, 501);
    assert.equal((await raw(dp, 'GET', '/v3/no/such/path')).status, 404);
    const unauth = await fetch(`${dp.url}/v3/no/such/path`);
    assert.equal(unauth.status, 401, 'unknown paths answer 401 before 404');
    assert.match(unauth.headers.get('www-authenticate') ?? '', /Basic/);
  });
});
