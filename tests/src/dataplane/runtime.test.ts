import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  freePort, httpRequest, startEchoServer, startLocalDataPlane, waitFor,
  type EchoReply, type EchoServer, type LocalDataPlane,
} from '@ingressfed/tests/harness';
import type { ProcState } from '@ingressfed/dataplane/local';
import { workerPids } from './fixtures.js';

// Runtime server changes (address, port, weight, state) take effect without a reload. "No reload"
// is read from HAProxy itself: the master's reload counter and the worker's PID from `show proc`.


describe('dataplane: runtime server changes apply without a reload', { timeout: 60_000 }, () => {
  let dp: LocalDataPlane;
  let a: EchoServer;
  let b: EchoServer;
  let port: number;
  let before0: ProcState;
  const url = (): string => `http://127.0.0.1:${port}/`;

  async function spread(n: number): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await httpRequest(url(), { host: 'app.example.com' });
      const key = r.status === 200 ? r.json<EchoReply>().endpoint : `status ${r.status}`;
      seen[key] = (seen[key] ?? 0) + 1;
    }
    return seen;
  }

  before(async () => {
    dp = await startLocalDataPlane();
    a = await startEchoServer('127.0.0.5', { name: 'a' });
    b = await startEchoServer('127.0.0.6', { name: 'b' });
    port = await freePort();
    await dp.client.transaction(async (tx) => {
      const q = tx.query;
      await dp.client.unwrap('be', dp.client.api.POST('/services/haproxy/configuration/backends', {
        params: { query: q }, body: { name: 'be_app', mode: 'http', balance: { algorithm: 'roundrobin' } },
      }));
      await dp.client.unwrap('s0', dp.client.api.POST('/services/haproxy/configuration/backends/{parent_name}/servers', {
        params: { path: { parent_name: 'be_app' }, query: q }, body: { name: 's0', address: a.address, port: a.port, weight: 1 },
      }));
      // A spare slot: a placeholder address, in maintenance until an endpoint is placed in it.
      await dp.client.unwrap('slot', dp.client.api.POST('/services/haproxy/configuration/backends/{parent_name}/servers', {
        params: { path: { parent_name: 'be_app' }, query: q }, body: { name: 's1', address: '0.0.0.0', port: 1, maintenance: 'enabled', weight: 1 },
      }));
      await dp.client.unwrap('fe', dp.client.api.POST('/services/haproxy/configuration/frontends', {
        params: { query: q }, body: { name: 'fe', mode: 'http', default_backend: 'be_app' },
      }));
      await dp.client.unwrap('bind', dp.client.api.POST('/services/haproxy/configuration/frontends/{parent_name}/binds', {
        params: { path: { parent_name: 'fe' }, query: q }, body: { name: 'http', address: '127.0.0.1', port },
      }));
    });
    await waitFor('route live', async () => (await httpRequest(url(), { host: 'app.example.com' })).status === 200);
    before0 = await dp.procState();
  });

  after(async () => {
    await dp?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('places an endpoint into a spare slot (address, port, ready) and traffic reaches it', async () => {
    const s = await dp.client.setRuntimeServer('be_app', 's1', { address: b.address, port: b.port, admin_state: 'ready' });
    assert.equal(s.address, b.address);
    assert.equal(s.port, b.port);
    assert.equal(s.admin_state, 'ready');
    const seen = await spread(10);
    assert.deepEqual(seen, { [a.endpoint]: 5, [b.endpoint]: 5 });
  });

  it('follows weights exactly (roundrobin 1:3)', async () => {
    await dp.client.setRuntimeServer('be_app', 's1', { weight: 3 });
    assert.equal((await dp.client.getRuntimeServer('be_app', 's1')).weight, 3);
    const seen = await spread(40);
    assert.deepEqual(seen, { [a.endpoint]: 10, [b.endpoint]: 30 });
  });

  it('takes a server out with maint and puts it back with ready', async () => {
    await dp.client.setRuntimeServer('be_app', 's0', { admin_state: 'maint' });
    assert.equal((await dp.client.getRuntimeServer('be_app', 's0')).admin_state, 'maint');
    assert.deepEqual(await spread(8), { [b.endpoint]: 8 });
    await dp.client.setRuntimeServer('be_app', 's0', { admin_state: 'ready' });
    await dp.client.setRuntimeServer('be_app', 's1', { weight: 1 });
    assert.deepEqual(await spread(8), { [a.endpoint]: 4, [b.endpoint]: 4 });
  });

  it('did all of the above without reloading HAProxy (from show proc)', async () => {
    const now = await dp.procState();
    assert.equal(now.master.reloads, before0.master.reloads, 'master reload counter unchanged');
    assert.deepEqual(workerPids(now), workerPids(before0), 'same worker process');
  });

  it('persists a weight/address change with PUT server at a version, still without a reload', async () => {
    const v = await dp.client.getVersion();
    const res = await fetch(`${dp.url}/v3/services/haproxy/configuration/backends/be_app/servers/s1?version=${v}`, {
      method: 'PUT',
      headers: { Authorization: `Basic ${Buffer.from(`${dp.username}:${dp.password}`).toString('base64')}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 's1', address: b.address, port: b.port, weight: 2, maintenance: 'disabled' }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('Reload-ID'), null);
    assert.equal(res.headers.get('Configuration-Version'), String(v + 1));
    const stored = await dp.client.unwrap('get server', dp.client.api.GET('/services/haproxy/configuration/backends/{parent_name}/servers/{name}', {
      params: { path: { parent_name: 'be_app', name: 's1' } },
    }));
    assert.equal(stored.data.address, b.address);
    assert.equal((await dp.client.getRuntimeServer('be_app', 's1')).weight, 2);
    assert.deepEqual(await spread(9), { [a.endpoint]: 3, [b.endpoint]: 6 });
    const now = await dp.procState();
    assert.equal(now.master.reloads, before0.master.reloads);
    assert.deepEqual(workerPids(now), workerPids(before0));
  });

  it('refuses runtime changes HAProxy cannot apply, and unknown servers, with clear errors', async () => {
    await assert.rejects(dp.client.setRuntimeServer('be_app', 'nope', { admin_state: 'maint' }), /server nope does not exist/);
    await assert.rejects(dp.client.setRuntimeServer('be_app', 's0', { weight: 999 }), /weight 999 is outside 0\.\.256/);
    await assert.rejects(dp.client.setRuntimeServer('be_app', 's0', { address: '127.0.0.1;shutdown' }), /is not an IP address/);
    await assert.rejects(dp.client.setRuntimeServer('be_app', 's0 x', { admin_state: 'maint' }), /invalid server name/);
    assert.equal((await dp.client.getRuntimeServer('be_app', 's0')).address, a.address, 'a failed change leaves the server as it was');
  });
});
