import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort, httpRequest, startEchoServer, startLocalDataPlane, waitFor,
  type EchoReply, type EchoServer, type LocalDataPlane,
} from '@ingressfed/tests/harness';
import { workerPids } from './fixtures.js';

// Map files in the Data Plane API's storage and the maps HAProxy loaded from them: uploaded, named
// by a frontend (set-var with map_beg, then use_backend %[var(...)]), and changed entry by entry at
// runtime with no reload. force_sync writes the runtime contents to the file, so a reload keeps them.

interface Answer { status: number; text: string; json: unknown; headers: Headers }

const MAP = 'routes.map';

describe('dataplane: map files and runtime maps', { timeout: 120_000 }, () => {
  let dp: LocalDataPlane;
  let app: EchoServer;
  let api: EchoServer;
  let port: number;
  let mapFile: string;

  async function call(method: string, path: string, body?: string | FormData | unknown[] | Record<string, unknown>): Promise<Answer> {
    const headers: Record<string, string> = { Authorization: `Basic ${Buffer.from(`${dp.username}:${dp.password}`).toString('base64')}` };
    let payload: string | FormData | undefined;
    if (typeof body === 'string') {
      headers['Content-Type'] = 'text/plain';
      payload = body;
    } else if (body instanceof FormData) {
      payload = body;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${dp.url}/v3/services/haproxy${path}`, { method, headers, body: payload });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, headers: res.headers };
  }

  const upload = (name: string, text: string): Promise<Answer> => {
    const form = new FormData();
    form.append('file_upload', new Blob([text]), name);
    return call('POST', '/storage/maps', form);
  };
  const entries = async (): Promise<Array<{ id: string; key: string; value: string }>> => {
    const r = await call('GET', `/runtime/maps/routes/entries`);
    assert.equal(r.status, 200, r.text);
    return r.json as Array<{ id: string; key: string; value: string }>;
  };
  const entryPath = (key: string): string => `/runtime/maps/routes/entries/${encodeURIComponent(key)}`;
  /** Who serves a request: the echo endpoint, or the status of HAProxy's own answer. */
  const routeOf = async (host: string, path: string): Promise<string> => {
    const r = await httpRequest(`http://127.0.0.1:${port}${path}`, { host });
    return r.status === 200 ? r.json<EchoReply>().endpoint : `status ${r.status}`;
  };
  const forceReloadWithSameFile = async (): Promise<void> => {
    const r = await call('PUT', `/storage/maps/${MAP}?force_reload=true`, readFileSync(mapFile, 'utf8'));
    assert.equal(r.status, 204, r.text);
  };

  before(async () => {
    dp = await startLocalDataPlane();
    app = await startEchoServer('127.0.0.9', { service: 'app' });
    api = await startEchoServer('127.0.0.10', { service: 'api' });
    port = await freePort();
  });

  after(async () => {
    await dp?.stop();
    await app?.stop();
    await api?.stop();
  });

  it('stores an uploaded map file without a reload, lists it and serves its contents; the same name again is 409', async () => {
    const before0 = await dp.procState();
    const text = 'api.example.test/v1/ be_api\n';
    const r = await upload(MAP, text);
    assert.equal(r.status, 201, r.text);
    mapFile = join(dp.workdir, 'maps', MAP);
    assert.deepEqual(r.json, { description: 'managed but not loaded map file (no runtime ID)', file: mapFile, storage_name: MAP, size: text.length });
    assert.equal(r.headers.get('Reload-ID'), null);
    assert.equal((await upload(MAP, 'x y\n')).status, 409);
    const list = await call('GET', '/storage/maps');
    assert.deepEqual(list.json, [{ description: 'managed map file', file: mapFile, storage_name: MAP }]);
    const raw = await call('GET', `/storage/maps/${MAP}`);
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('content-type'), 'application/octet-stream');
    assert.equal(raw.text, text);
    const notLoaded = await call('GET', '/runtime/maps/routes/entries');
    assert.equal(notLoaded.status, 404);
    assert.match(String((notLoaded.json as { message: string }).message), /not loaded by HAProxy/);
    assert.equal((await dp.procState()).master.reloads, before0.master.reloads, 'an upload does not reload');
  });

  it('routes by the map from a frontend: set-var with map_beg, then use_backend %[var(txn.b)]', async () => {
    await dp.client.transaction(async (tx) => {
      // full_section: the sections are written with their children in one call each.
      const q = { query: { ...tx.query, full_section: true } };
      const u = (op: string, p: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<unknown> => dp.client.unwrap(op, p);
      await u('be_default', dp.client.api.POST('/services/haproxy/configuration/backends', {
        params: q,
        body: { name: 'be_default', mode: 'http', http_request_rule_list: [
          { type: 'return', return_status_code: 404, return_content_type: 'text/plain', return_content_format: 'string', return_content: '"no route"' },
        ] },
      }));
      for (const [name, echo] of [['be_app', app], ['be_api', api]] as const) {
        await u(name, dp.client.api.POST('/services/haproxy/configuration/backends', {
          params: q, body: { name, mode: 'http', servers: { s0: { name: 's0', address: echo.address, port: echo.port } } },
        }));
      }
      await u('fe', dp.client.api.POST('/services/haproxy/configuration/frontends', {
        params: q,
        body: {
          name: 'fe', mode: 'http', default_backend: 'be_default',
          binds: { http: { name: 'http', address: '127.0.0.1', port } },
          http_request_rule_list: [
            { type: 'set-var', var_scope: 'txn', var_name: 'p', var_expr: 'path' },
            { type: 'set-var', var_scope: 'txn', var_name: 'b', var_expr: `req.hdr(host),field(1,:),lower,concat(,txn.p,),map_beg(${mapFile})` },
          ],
          backend_switching_rule_list: [{ name: '%[var(txn.b)]', cond: 'if', cond_test: '{ var(txn.b) -m found }' }],
        },
      }));
    });
    await waitFor('the map route live', async () => (await routeOf('api.example.test', '/v1/users')) === api.endpoint);
    const cfg = await call('GET', '/configuration/raw');
    assert.match(cfg.text, /^ {4}http-request set-var\(txn\.b\) req\.hdr\(host\),field\(1,:\),lower,concat\(,txn\.p,\),map_beg\(\S+routes\.map\)$/m);
    assert.match(cfg.text, /^ {4}use_backend %\[var\(txn\.b\)\] if \{ var\(txn\.b\) -m found \}$/m);
    assert.equal(await routeOf('app.example.test', '/'), 'status 404', 'a host the map lacks goes to the default backend');
  });

  it('lists the loaded map and its entries at runtime', async () => {
    const maps = await call('GET', '/runtime/maps');
    assert.equal(maps.status, 200);
    const [m] = maps.json as Array<Record<string, string>>;
    assert.equal(m?.file, mapFile);
    assert.equal(m?.storage_name, MAP);
    assert.match(String(m?.id), /^\d+$/);
    assert.match(String(m?.description), /loaded from file/);
    const one = await call('GET', '/runtime/maps/routes');
    assert.deepEqual(one.json, m, 'the name works without .map');
    assert.deepEqual((await call('GET', `/runtime/maps/${MAP}`)).json, m);
    const [e] = await entries();
    assert.match(String(e?.id), /^0x[0-9a-f]+$/);
    assert.deepEqual({ key: e?.key, value: e?.value }, { key: 'api.example.test/v1/', value: 'be_api' });
  });

  it('adds, replaces and deletes entries at runtime: routing follows at once, with no reload', async () => {
    const before0 = await dp.procState();
    const add = await call('POST', '/runtime/maps/routes/entries', { key: 'app.example.test/', value: 'be_app' });
    assert.equal(add.status, 201, add.text);
    assert.deepEqual(add.json, { key: 'app.example.test/', value: 'be_app' });
    assert.equal(await routeOf('app.example.test', '/'), app.endpoint);
    assert.deepEqual((await call('GET', entryPath('app.example.test/'))).json, { key: 'app.example.test/', value: 'be_app' });

    const set = await call('PUT', entryPath('app.example.test/'), { value: 'be_api' });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.json, { key: 'app.example.test/', value: 'be_api' });
    assert.equal(await routeOf('app.example.test', '/'), api.endpoint);

    assert.equal((await call('DELETE', entryPath('app.example.test/'))).status, 204);
    assert.equal(await routeOf('app.example.test', '/'), 'status 404');
    assert.equal((await call('GET', entryPath('app.example.test/'))).status, 404);

    const now = await dp.procState();
    assert.equal(now.master.reloads, before0.master.reloads, 'master reload counter unchanged');
    assert.deepEqual(workerPids(now), workerPids(before0), 'same worker process');
    assert.equal(readFileSync(mapFile, 'utf8'), 'api.example.test/v1/ be_api\n', 'without force_sync the file is untouched');
  });

  it('loses runtime-only entries at a reload, as dataplaneapi does without update_map_files', async () => {
    assert.equal((await call('POST', '/runtime/maps/routes/entries', { key: 'tmp.example.test/', value: 'be_app' })).status, 201);
    assert.equal(await routeOf('tmp.example.test', '/'), app.endpoint);
    const reloads = (await dp.procState()).master.reloads;
    await forceReloadWithSameFile();
    assert.equal((await dp.procState()).master.reloads, reloads + 1);
    await waitFor('the reloaded map without the entry', async () => !(await entries()).some((e) => e.key === 'tmp.example.test/'));
    await waitFor('the reloaded HAProxy to route without the entry', async () => (await routeOf('tmp.example.test', '/')) === 'status 404');
  });

  it('writes the runtime contents to the file with force_sync, so a forced reload keeps them', async () => {
    const add = await call('POST', '/runtime/maps/routes/entries?force_sync=true', { key: 'app.example.test/', value: 'be_app' });
    assert.equal(add.status, 201, add.text);
    assert.equal(readFileSync(mapFile, 'utf8'), 'api.example.test/v1/ be_api\napp.example.test/ be_app\n');
    assert.equal((await call('PUT', `${entryPath('api.example.test/v1/')}?force_sync=true`, { value: 'be_app' })).status, 200);
    assert.equal(readFileSync(mapFile, 'utf8'), 'api.example.test/v1/ be_app\napp.example.test/ be_app\n');
    await forceReloadWithSameFile();
    assert.deepEqual((await entries()).map((e) => [e.key, e.value]), [['api.example.test/v1/', 'be_app'], ['app.example.test/', 'be_app']]);
    await waitFor('the reloaded HAProxy to route by the synced entries', async () =>
      (await routeOf('api.example.test', '/v1/x')) === app.endpoint && (await routeOf('app.example.test', '/')) === app.endpoint);
    assert.equal((await call('DELETE', `${entryPath('app.example.test/')}?force_sync=true`)).status, 204);
    assert.equal(readFileSync(mapFile, 'utf8'), 'api.example.test/v1/ be_app\n');
  });

  it('replaces a stored file with a scheduled reload (202 + Reload-ID) that brings the new contents live', async () => {
    const r = await call('PUT', `/storage/maps/${MAP}`, 'api.example.test/v1/ be_api\napp.example.test/ be_app\n');
    assert.equal(r.status, 202, r.text);
    const id = r.headers.get('Reload-ID');
    assert.ok(id, 'a Reload-ID header');
    await waitFor('the reload to succeed', async () => ((await call('GET', `/reloads/${id}`)).json as { status: string }).status === 'succeeded');
    await waitFor('the new contents live', async () =>
      (await routeOf('api.example.test', '/v1/x')) === api.endpoint && (await routeOf('app.example.test', '/')) === app.endpoint);
    const skip = await call('PUT', `/storage/maps/${MAP}?skip_reload=true`, 'api.example.test/v1/ be_api\napp.example.test/ be_app\n');
    assert.equal(skip.status, 204);
    assert.equal(skip.headers.get('Reload-ID'), null);
  });

  it('adds a payload of entries in one call, in as many CLI requests as HAProxy\'s buffer needs', async () => {
    const before0 = await dp.procState();
    const bulk = Array.from({ length: 1500 }, (_, i) => ({ key: `bulk${String(i).padStart(4, '0')}.example.test/`, value: i % 2 ? 'be_app' : 'be_api' }));
    const r = await call('PUT', '/runtime/maps/routes?force_sync=true', bulk);
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.json, bulk);
    const now = await entries();
    assert.equal(now.length, 2 + bulk.length);
    assert.equal(await routeOf('bulk1499.example.test', '/'), app.endpoint);
    assert.equal(await routeOf('bulk0000.example.test', '/'), api.endpoint);
    assert.equal(readFileSync(mapFile, 'utf8').split('\n').filter(Boolean).length, 2 + bulk.length, 'force_sync wrote every entry');
    assert.equal((await dp.procState()).master.reloads, before0.master.reloads);
  });

  it('refuses unknown maps (404), duplicate keys (409), absent keys (404) and bad keys or values (400), changing nothing', async () => {
    const count = (await entries()).length;
    const status = async (method: string, path: string, body?: Record<string, unknown> | unknown[]): Promise<number> => (await call(method, path, body)).status;
    assert.equal(await status('GET', '/runtime/maps/nope/entries'), 404);
    assert.equal(await status('POST', '/runtime/maps/nope/entries', { key: 'k', value: 'v' }), 404);
    assert.equal(await status('GET', '/runtime/maps/nope'), 404);
    const dup = await call('POST', '/runtime/maps/routes/entries', { key: 'app.example.test/', value: 'be_api' });
    assert.equal(dup.status, 409);
    assert.match(String((dup.json as { message: string }).message), /already exists/);
    for (const method of ['GET', 'PUT', 'DELETE']) {
      assert.equal(await status(method, entryPath('absent.example.test/'), method === 'PUT' ? { value: 'be_app' } : undefined), 404, method);
    }
    const bad = [
      { key: 'a b', value: 'be_app' }, { key: 'a\\b', value: 'be_app' }, { key: '', value: 'be_app' },
      { key: 'k1', value: 'be_app;show info' }, { key: 'k1', value: 'two words' }, { key: 'k1', value: 'x<<' }, { key: 'k1' },
    ];
    for (const body of bad) {
      const r = await call('POST', '/runtime/maps/routes/entries', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }
    // Control characters are refused in any JSON body before it reaches a handler.
    assert.equal(await status('POST', '/runtime/maps/routes/entries', { key: 'a\tb', value: 'be_app' }), 422);
    const payload = await call('PUT', '/runtime/maps/routes', [{ key: 'ok1', value: 'be_app' }, { key: 'bad key', value: 'be_app' }]);
    assert.equal(payload.status, 400, 'a payload with one bad entry is refused whole');
    assert.equal((await call('GET', `/runtime/maps/routes/entries/${encodeURIComponent('a;b')}`)).status, 400, 'the spec pattern applies to {id}');
    assert.equal((await call('GET', `/runtime/maps/${encodeURIComponent('../x')}/entries`)).status, 400, 'a map name is a file name');
    assert.equal((await call('PUT', entryPath('app.example.test/'), { value: 'a b' })).status, 400);
    assert.equal((await entries()).length, count, 'nothing reached the map');
    assert.ok(!(await entries()).some((e) => e.key === 'ok1'));
    const v = await dp.client.getVersion();
    const rule = await call('POST', `/configuration/frontends/fe/http_request_rules/0?version=${v}`, { type: 'set-var', var_scope: 'txn', var_name: 'x' });
    assert.equal(rule.status, 422, rule.text);
    assert.match(String((rule.json as { message: string }).message), /var_expr/);
  });

  it('answers hostile names, keys and values without a 500, every error well-formed', async () => {
    const hostile = [' ', 'a b', '#x', '"', "'", '\\', '${HOME}', '%[env(HOME)]', 'a\nb', '\u0000', '../../etc/passwd',
      'bücher', '\u202e', 'x'.repeat(5000), ';show info', 'x<<', '.map', '-'];
    const enc = encodeURIComponent;
    for (const h of hostile) {
      const calls: Array<[string, string, (Record<string, unknown> | unknown[] | string)?]> = [
        ['GET', `/runtime/maps/${enc(h)}`], ['GET', `/runtime/maps/${enc(h)}/entries`], ['DELETE', `/runtime/maps/${enc(h)}`],
        ['GET', `/runtime/maps/routes/entries/${enc(h)}`], ['PUT', `/runtime/maps/routes/entries/${enc(h)}`, { value: h }],
        ['DELETE', `/runtime/maps/routes/entries/${enc(h)}`], ['POST', '/runtime/maps/routes/entries', { key: h, value: h }],
        ['PUT', `/runtime/maps/${enc(h)}`, [{ key: h, value: 'v' }]], ['GET', `/storage/maps/${enc(h)}`],
        ['PUT', `/storage/maps/${enc(h)}?skip_reload=true`, 'k v\n'], ['DELETE', `/storage/maps/${enc(h)}`],
      ];
      for (const [method, path, body] of calls) {
        const r = await call(method, path, body);
        const what = `${method} ${path.slice(0, 80)}`;
        assert.ok(r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
        if (r.status >= 400) assert.equal((r.json as { code: number }).code, r.status, what);
      }
    }
  });

  it('deletes a stored file only while no configuration line names it (409 otherwise)', async () => {
    assert.equal((await upload('spare', 'k v\n')).status, 201, 'the upload name gets .map');
    assert.equal((await call('DELETE', '/storage/maps/spare.map')).status, 204);
    assert.equal((await call('GET', '/storage/maps/spare.map')).status, 404);
    const r = await call('DELETE', `/storage/maps/${MAP}`);
    assert.equal(r.status, 409);
    assert.match(String((r.json as { message: string }).message), /referenced in haproxy conf at line \d+: http-request set-var/);
    assert.equal((await call('GET', `/storage/maps/${MAP}`)).status, 200);
  });

  it('clears a map at runtime; force_sync empties its file and forceDelete deletes it', async () => {
    assert.equal((await call('DELETE', '/runtime/maps/routes?force_sync=true')).status, 204);
    assert.deepEqual(await entries(), []);
    assert.equal(readFileSync(mapFile, 'utf8'), '');
    assert.equal(await routeOf('api.example.test', '/v1/x'), 'status 404');
    assert.equal((await call('POST', '/runtime/maps/routes/entries', { key: 'api.example.test/', value: 'be_api' })).status, 201);
    assert.equal((await call('DELETE', '/runtime/maps/routes?forceDelete=true')).status, 204);
    assert.deepEqual(await entries(), []);
    assert.equal((await call('GET', `/storage/maps/${MAP}`)).status, 404);
  });
});
