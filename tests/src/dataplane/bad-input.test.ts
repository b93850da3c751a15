import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { seededRandom as prng } from '@ingressfed/schemas/testing';
import {
  freePort, httpRequest, startEchoServer, startLocalDataPlane, waitFor,
  type EchoServer, type LocalDataPlane,
} from '@ingressfed/tests/harness';
import { buildRoutingConfig } from './fixtures.js';

// Hostile and malformed requests: the server never crashes, never answers 500, and every error is
// `{code, message}` with code equal to the HTTP status. Seeded, so a failure is reproducible.

const HOSTILE = [
  '', ' ', 'a b', '#x', '"', "'", '\\', '${HOME}', '%[env(HOME)]', 'a\nglobal\n lua-load /x.lua', '\u0000', '\r\n',
  '../../etc/passwd', 'bücher', 'exаmple', '\u202e', 'x'.repeat(5000), '-1', '1e309', 'null', '[]', '{}', ';show info',
];

describe('dataplane: hostile input never crashes the server', { timeout: 120_000 }, () => {
  let dp: LocalDataPlane;
  let app: EchoServer;
  let port: number;

  before(async () => {
    dp = await startLocalDataPlane();
    app = await startEchoServer('127.0.0.7');
    port = await freePort();
    await dp.client.transaction((tx) => buildRoutingConfig(dp.client, tx, { bindPort: port, app: [app.endpoint], api: [app.endpoint] }));
    await waitFor('route live', async () => (await httpRequest(`http://127.0.0.1:${port}/`, { host: 'app.example.com' })).status === 200);
  });
  after(async () => {
    await dp?.stop();
    await app?.stop();
  });

  const auth = (): string => `Basic ${Buffer.from(`${dp.username}:${dp.password}`).toString('base64')}`;

  function send(method: string, path: string, body?: Buffer | string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const u = new URL(dp.url);
      const req = request({ hostname: u.hostname, port: u.port, method, path, agent: false, timeout: 10_000,
        headers: { Authorization: auth(), 'Content-Type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (err) => resolve({ status: -1, text: err.message }));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  function assertErrorShape(r: { status: number; text: string }, what: string): void {
    assert.ok(r.status >= 200 && r.status < 600, `${what}: got status ${r.status} (${r.text})`);
    assert.notEqual(r.status, 500, `${what}: internal error ${r.text}`);
    if (r.status >= 400) {
      const body = JSON.parse(r.text) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['code', 'message'], what);
      assert.equal(body.code, r.status, what);
      assert.equal(typeof body.message, 'string', what);
    }
  }

  it('answers 300 seeded random requests without a 500 and with well-formed errors', async () => {
    const rnd = prng(20261122);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const enc = (s: string): string => encodeURIComponent(s);
    const paths = [
      (): string => `/v3/services/haproxy/configuration/backends/${enc(pick(HOSTILE))}`,
      (): string => `/v3/services/haproxy/configuration/backends/be_app/servers/${enc(pick(HOSTILE))}`,
      (): string => `/v3/services/haproxy/configuration/frontends/fe_http/acls/${enc(pick(HOSTILE))}`,
      (): string => `/v3/services/haproxy/configuration/frontends/${enc(pick(HOSTILE))}/backend_switching_rules`,
      (): string => `/v3/services/haproxy/transactions/${enc(pick(HOSTILE))}`,
      (): string => `/v3/services/haproxy/reloads/${enc(pick(HOSTILE))}`,
      (): string => `/v3/services/haproxy/runtime/backends/${enc(pick(HOSTILE))}/servers/${enc(pick(HOSTILE))}`,
      (): string => '/v3/services/haproxy/configuration/backends',
      (): string => '/v3/services/haproxy/transactions',
      (): string => `/v3/${enc(pick(HOSTILE))}/%E0%A4%A`,
      (): string => `/v3/services/haproxy/configuration/backends/%E0%A4%A`,
    ];
    const queries = [
      (): string => '', (): string => `?version=${enc(pick(HOSTILE))}`, (): string => `?transaction_id=${enc(pick(HOSTILE))}`,
      (): string => `?force_reload=${enc(pick(HOSTILE))}&version=1`, (): string => '?full_section=maybe', (): string => '?version=99999999999999999999',
    ];
    const value = (depth: number): unknown => {
      const r = rnd();
      if (depth > 3 || r < 0.3) return pick(HOSTILE);
      if (r < 0.4) return Math.floor(rnd() * 1e6) * (rnd() < 0.5 ? -1 : 1);
      if (r < 0.5) return rnd() < 0.5;
      if (r < 0.6) return null;
      if (r < 0.75) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (const k of ['name', 'address', 'port', 'mode', 'acl_name', 'criterion', 'value', 'cond', 'cond_test', 'balance', 'weight', pick(HOSTILE)]) {
        if (rnd() < 0.4) o[k] = value(depth + 1);
      }
      return o;
    };
    for (let i = 0; i < 300; i++) {
      const method = pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
      const path = `${pick(paths)()}${pick(queries)()}`;
      const body = rnd() < 0.15 ? Buffer.from([0xff, 0xfe, 0x7b, 0x22]) : JSON.stringify(value(0));
      const r = await send(method, path, method === 'GET' || method === 'DELETE' ? undefined : body);
      assertErrorShape(r, `#${i} ${method} ${path}`);
    }
  });

  it('refuses deeply nested and oversize bodies cleanly', async () => {
    const v = await dp.client.getVersion();
    const deep = await send('POST', `/v3/services/haproxy/configuration/backends?version=${v}`, '['.repeat(200_000));
    assertErrorShape(deep, 'deep nesting');
    assert.equal(deep.status, 400);
    const big = await send('POST', `/v3/services/haproxy/configuration/backends?version=${v}`, Buffer.alloc(17 * 1024 * 1024, 0x20));
    assert.ok(big.status === 413 || big.status === -1, `oversize body: ${big.status}`);
  });

  it('is still healthy, at the same version, and HAProxy still serves the route', async () => {
    const health = await dp.client.unwrap('health', dp.client.api.GET('/health', {}));
    assert.equal(health.data.haproxy, 'up');
    assert.ok(dp.process.running);
    assert.equal((await httpRequest(`http://127.0.0.1:${port}/`, { host: 'app.example.com' })).status, 200);
  });
});
