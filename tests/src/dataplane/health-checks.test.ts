import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  freePort, httpRequest, startEchoServer, startLocalDataPlane, waitFor,
  type EchoReply, type EchoServer, type LocalDataPlane,
} from '@ingressfed/tests/harness';

// http checks, backup servers and allbackups configured through the API, observed in a real HAProxy.

describe('dataplane: http checks fail a dead primary over to the backups', { timeout: 60_000 }, () => {
  let dp: LocalDataPlane;
  let primary: EchoServer;
  let backups: EchoServer[];
  let port: number;
  const url = (): string => `http://127.0.0.1:${port}/`;

  before(async () => {
    dp = await startLocalDataPlane();
    primary = await startEchoServer('127.0.0.10', { role: 'primary' });
    backups = [await startEchoServer('127.0.0.11', { role: 'backup' }), await startEchoServer('127.0.0.12', { role: 'backup' })];
    port = await freePort();
    await dp.client.transaction(async (tx) => {
      const q = tx.query;
      await dp.client.unwrap('be', dp.client.api.POST('/services/haproxy/configuration/backends', {
        params: { query: q },
        body: {
          name: 'be', mode: 'http', balance: { algorithm: 'roundrobin' }, allbackups: 'enabled',
          retries: 3, retry_on: 'conn-failure empty-response response-timeout', redispatch: { enabled: 'enabled' },
          adv_check: 'httpchk', default_server: { check: 'enabled', inter: 100, fall: 1, rise: 1 },
        },
      }));
      await dp.client.unwrap('checks', dp.client.api.PUT('/services/haproxy/configuration/backends/{parent_name}/http_checks', {
        params: { path: { parent_name: 'be' }, query: q },
        body: [{ type: 'send', method: 'GET', uri: '/healthz' }, { type: 'expect', match: 'status', pattern: '200' }],
      }));
      const servers = [
        { name: 'p0', address: primary.address, port: primary.port },
        ...backups.map((b, i) => ({ name: `b${i}`, address: b.address, port: b.port, backup: 'enabled' as const })),
      ];
      for (const s of servers) {
        await dp.client.unwrap(s.name, dp.client.api.POST('/services/haproxy/configuration/backends/{parent_name}/servers', {
          params: { path: { parent_name: 'be' }, query: q }, body: s,
        }));
      }
      await dp.client.unwrap('fe', dp.client.api.POST('/services/haproxy/configuration/frontends', {
        params: { query: q }, body: { name: 'fe', mode: 'http', default_backend: 'be' },
      }));
      await dp.client.unwrap('bind', dp.client.api.POST('/services/haproxy/configuration/frontends/{parent_name}/binds', {
        params: { path: { parent_name: 'fe' }, query: q }, body: { name: 'http', address: '127.0.0.1', port },
      }));
    });
    await waitFor('route live', async () => (await httpRequest(url())).status === 200);
  });

  after(async () => {
    await dp?.stop();
    await primary?.stop();
    for (const b of backups ?? []) await b.stop();
  });

  const roles = async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await httpRequest(url())).json<EchoReply>().endpoint);
    return out;
  };

  it('sends everything to the healthy primary while it is up', async () => {
    assert.deepEqual(new Set(await roles(6)), new Set([primary.endpoint]));
  });

  it('marks the primary down from failed checks and spreads traffic over all backups (allbackups)', async () => {
    await primary.stop();
    await waitFor('primary marked down by health checks',
      async () => (await dp.client.getRuntimeServer('be', 'p0')).operational_state === 'down', { timeoutMs: 10_000 });
    const seen = await roles(6);
    assert.deepEqual(new Set(seen), new Set(backups.map((b) => b.endpoint)), 'both backups serve, not only the first');
  });

  it('returns to the primary once its checks pass again', async () => {
    primary = await startEchoServer(primary.address, { role: 'primary' }, primary.port);
    await waitFor('primary back up', async () => (await dp.client.getRuntimeServer('be', 'p0')).operational_state === 'up', { timeoutMs: 10_000 });
    assert.deepEqual(new Set(await roles(6)), new Set([primary.endpoint]));
  });
});
