import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  freePort, httpRequest, startEchoServer, startLocalDataPlane, waitFor,
  type EchoReply, type EchoServer, type LocalDataPlane,
} from '@ingressfed/tests/harness';
import { buildRoutingConfig } from './fixtures.js';

describe('dataplane: routing built in one transaction reaches the right echo backend', { timeout: 60_000 }, () => {
  let dp: LocalDataPlane;
  let app: EchoServer;
  let api: EchoServer;
  let port: number;

  before(async () => {
    dp = await startLocalDataPlane();
    app = await startEchoServer('127.0.0.2', { service: 'app' });
    api = await startEchoServer('127.0.0.3', { service: 'api' });
    port = await freePort();
  });

  after(async () => {
    await dp?.stop();
    await app?.stop();
    await api?.stop();
  });

  it('commits frontend, ACLs, switching rules and two backends in one transaction with one version step', async () => {
    const before = await dp.client.getVersion();
    const outcome = await dp.client.transaction((tx) => buildRoutingConfig(dp.client, tx, { bindPort: port, app: [app.endpoint], api: [api.endpoint] }));
    assert.equal(outcome.version, before + 1, 'a commit increments the version by exactly one');
    assert.equal(outcome.reload?.status, 'succeeded');
    assert.match(outcome.reloadId ?? '', /^\d{4}-\d{2}-\d{2}-\d+$/);
    assert.equal(await dp.client.getVersion(), before + 1);
    const fe = await dp.client.unwrap('get fe', dp.client.api.GET('/services/haproxy/configuration/frontends/{name}', {
      params: { path: { name: 'fe_http' }, query: { full_section: true } },
    }));
    assert.equal(fe.data.backend_switching_rule_list?.length, 2);
    assert.equal(fe.data.acl_list?.length, 2);
  });

  it('sends requests for the app host to be_app and its /api/ paths to be_api', async () => {
    const base = `http://127.0.0.1:${port}`;
    const a = await waitFor('HAProxy serving the new frontend', async () => {
      const r = await httpRequest(`${base}/`, { host: 'app.example.com' });
      return r.status === 200 ? r : undefined;
    });
    assert.equal(a.json<EchoReply>().service, 'app');
    assert.equal(a.json<EchoReply>().endpoint, app.endpoint);
    const b = await httpRequest(`${base}/api/users?x=1`, { host: 'App.Example.com:8080' });
    assert.equal(b.status, 200);
    assert.equal(b.json<EchoReply>().service, 'api');
    assert.equal(b.json<EchoReply>().path, '/api/users?x=1', 'path and query reach the backend unchanged');
    assert.ok(b.json<EchoReply>().headers['x-forwarded-for'], 'option forwardfor adds X-Forwarded-For');
  });

  it('answers 404 with a short body when nothing matches', async () => {
    const r = await httpRequest(`http://127.0.0.1:${port}/`, { host: 'unknown.example.com' });
    assert.equal(r.status, 404);
    assert.equal(r.body, 'no route');
    const noHost = await httpRequest(`http://127.0.0.1:${port}/api/x`, { host: 'api.example.com' });
    assert.equal(noHost.status, 404);
  });
});
