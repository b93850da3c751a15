import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { STATE_BUCKET, objectKey } from '@ingressfed/schemas';
import { socketCommand } from '@ingressfed/dataplane/local';
import { httpRequest, startFederation, startProber, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Several clusters behind one HAProxy entry point (issue: spoke and hub end to end).

describe('federation: two clusters behind one entry point', { timeout: 180_000 }, () => {
  let fed: Federation;
  let edgeUrl: string;
  const kubectl = (cluster: string, args: string[], input?: string): Promise<string> => fed.kubectl(cluster, args, input);
  const get = (host: string, path = '/'): Promise<{ status: number; json: () => EchoReply; body: string }> =>
    httpRequest(`${edgeUrl}${path}`, { host }).then((r) => ({ status: r.status, body: r.body, json: () => r.json<EchoReply>() }));
  /** The endpoints that answer n requests for web.example.com. */
  const endpoints = async (n: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await get('web.example.com');
      if (r.status === 200) seen.add(r.json().endpoint);
    }
    return seen;
  };
  const clustersServing = async (host: string, n: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await get(host);
      if (r.status === 200) seen.add(String(r.json().cluster));
    }
    return seen;
  };

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }] });
    edgeUrl = fed.edges[0]?.url as string;
    for (const [c, addr] of [['alpha', '127.0.10.1'], ['beta', '127.0.20.1']] as const) {
      await kubectl(c, ['create', '-f', '-'], ingressClass());
      await kubectl(c, ['create', '-f', '-'], service('web'));
      await kubectl(c, ['create', '-f', '-'], endpointSlice('web', [{ address: addr }]));
      await kubectl(c, ['create', '-f', '-'], ingress('web', [{ host: 'web.example.com', paths: [{ path: '/', service: 'web' }] }], {
        annotations: { 'ingressfed.io/failover': 'none' },
      }));
    }
  });

  after(async () => {
    await fed?.stop();
  });

  it('sends requests for the same Ingress and Service to endpoints of both clusters', async () => {
    const seen = await waitFor('both clusters answering', async () => {
      const s = await clustersServing('web.example.com', 8);
      return s.size === 2 ? s : undefined;
    }, { timeoutMs: 20_000 });
    assert.deepEqual([...seen].sort(), ['alpha', 'beta']);
    await fed.hub.idle();
    const plan = fed.hub.edgeStatus()[0]?.last?.plan;
    const be = plan?.backends.find((b) => b.id?.service === 'web');
    assert.deepEqual(be?.slots.filter((s) => s.endpoint).map((s) => s.endpoint?.cluster).sort(), ['alpha', 'beta'], 'one backend spans both clusters');
  });

  it('answers 404 for a host no cluster routes', async () => {
    const r = await get('nobody.example.com');
    assert.equal(r.status, 404);
  });

  it('makes a kubectl-created Ingress live, and a deleted one answer 404, each within 3 s', async () => {
    await kubectl('alpha', ['create', '-f', '-'], service('api'));
    await kubectl('alpha', ['create', '-f', '-'], endpointSlice('api', [{ address: '127.0.10.5' }]));
    await fed.echo.settled();
    let t0 = Date.now();
    await kubectl('alpha', ['create', '-f', '-'], ingress('api', [{ host: 'api.example.com', paths: [{ path: '/v1', service: 'api' }] }]));
    const live = await waitFor('the new route', async () => {
      const r = await get('api.example.com', '/v1/users');
      return r.status === 200 ? r.json() : undefined;
    }, { timeoutMs: 3000, intervalMs: 10 });
    assert.equal(live.service, 'api');
    assert.equal(live.cluster, 'alpha');
    const liveMs = Date.now() - t0;
    t0 = Date.now();
    await kubectl('alpha', ['delete', 'ingress', 'api']);
    await waitFor('the route gone', async () => (await get('api.example.com', '/v1/users')).status === 404, { timeoutMs: 3000, intervalMs: 10 });
    console.log(`route live ${liveMs} ms after kubectl create; 404 ${Date.now() - t0} ms after kubectl delete`);
  });

  it('adds and removes endpoints at runtime, without an HAProxy reload', async () => {
    const dp = fed.edges[0]?.dp;
    assert.ok(dp);
    await fed.hub.idle();
    const before = await dp.procState();
    await kubectl('alpha', ['replace', '-f', '-'], endpointSlice('web', [{ address: '127.0.10.1' }, { address: '127.0.10.2' }]));
    await fed.echo.settled();
    await waitFor('the new endpoint answering', async () => (await endpoints(9)).has('127.0.10.2:8080'), { timeoutMs: 5000 });
    await kubectl('alpha', ['replace', '-f', '-'], endpointSlice('web', [{ address: '127.0.10.2' }]));
    await waitFor('the removed endpoint gone', async () => !(await endpoints(9)).has('127.0.10.1:8080'), { timeoutMs: 5000 });
    assert.deepEqual([...(await endpoints(12))].sort(), ['127.0.10.2:8080', '127.0.20.1:8080']);
    const now = await dp.procState();
    assert.equal(now.master.reloads, before.master.reloads, 'HAProxy reported no reload');
    assert.deepEqual(now.workers.map((w) => w.pid), before.workers.map((w) => w.pid));
  });

  it('adds and removes routes to an existing Service at runtime, without a reload; a reload afterwards keeps them', async () => {
    const dp = fed.edges[0]?.dp;
    assert.ok(dp);
    await fed.hub.idle();
    const before = await dp.procState();
    await kubectl('alpha', ['create', '-f', '-'], ingress('more', [{ host: 'more.example.com', paths: [{ path: '/api', service: 'web' }] }], {
      annotations: { 'ingressfed.io/failover': 'none' }, // the backend's policy stays as it is
    }));
    await waitFor('the new route live', async () => (await get('more.example.com', '/api/x')).status === 200, { timeoutMs: 5000 });
    assert.equal((await get('more.example.com', '/other')).status, 404, 'only its path');
    await kubectl('alpha', ['delete', 'ingress', 'web']);
    await kubectl('beta', ['delete', 'ingress', 'web']);
    await waitFor('the removed route gone', async () => (await get('web.example.com')).status === 404, { timeoutMs: 5000 });
    const now = await dp.procState();
    assert.equal(now.master.reloads, before.master.reloads, 'HAProxy reported no reload');
    assert.deepEqual(now.workers.map((w) => w.pid), before.workers.map((w) => w.pid));
    // The files are written once the edge is idle; then a reload by anyone (here HAProxy's own,
    // through its master CLI) loads what is live.
    await waitFor('the map file written', async () => {
      const r = await dp.client.api.GET('/services/haproxy/storage/maps/{name}', { params: { path: { name: 'ingressfed_exact.map' } }, parseAs: 'text' });
      return String(r.data).includes('more.example.com/api ');
    }, { timeoutMs: 10_000 });
    await socketCommand(dp.masterSocket, 'reload');
    await waitFor('HAProxy reloaded', async () => (await dp.procState()).master.reloads > now.master.reloads, { timeoutMs: 10_000 });
    const exact = new Map((await dp.client.mapEntries('ingressfed_exact.map')).map((e) => [e.key, e.value]));
    assert.ok(exact.has('more.example.com/api'), 'the added route is in the reloaded map');
    assert.ok(!exact.has('web.example.com/'), 'the removed route is not');
    assert.equal((await get('web.example.com')).status, 404, 'the removed route stays removed');
    // Slot addresses are runtime state too: a reload the hub did not make loses those set since its
    // last transaction, until its resync reads the slots again and sets them.
    await waitFor('the added route answering', async () => (await get('more.example.com', '/api/x')).status === 200, { timeoutMs: 15_000 });
    // The first test's route, as it was.
    for (const c of ['alpha', 'beta']) {
      await kubectl(c, ['create', '-f', '-'], ingress('web', [{ host: 'web.example.com', paths: [{ path: '/', service: 'web' }] }], { annotations: { 'ingressfed.io/failover': 'none' } }));
    }
    await kubectl('alpha', ['delete', 'ingress', 'more']);
    await waitFor('web.example.com live again', async () => (await clustersServing('web.example.com', 8)).size === 2, { timeoutMs: 10_000 });
  });

  it('serves a new Service at once from a spare backend, without a reload; a reload keeps it', async () => {
    const dp = fed.edges[0]!.dp;
    await fed.hub.idle();
    const before = await dp.procState();
    await kubectl('beta', ['create', '-f', '-'], service('fresh'));
    await kubectl('beta', ['create', '-f', '-'], endpointSlice('fresh', [{ address: '127.0.20.7' }]));
    await kubectl('beta', ['create', '-f', '-'], ingress('fresh', [{ host: 'fresh.example.com', paths: [{ path: '/', service: 'fresh' }] }]));
    await waitFor('the new Service answering', async () => (await get('fresh.example.com')).status === 200, { timeoutMs: 5000 });
    assert.equal(String((await get('fresh.example.com')).json().service), 'fresh');
    const exact = new Map((await dp.client.mapEntries('ingressfed_exact.map')).map((e) => [e.key, e.value]));
    assert.match(exact.get('fresh.example.com/') ?? '', /^ingressfed_spare_\d+$/, 'served by a spare');
    const now = await dp.procState();
    assert.equal(now.master.reloads, before.master.reloads, 'HAProxy reported no reload');
    await fed.hub.idle();
    const planned = fed.hub.edgeStatus()[0]?.last?.plan.backends.find((x) => x.id?.service === 'fresh');
    assert.equal(planned?.name, exact.get('fresh.example.com/'), 'the plan puts the Service on that spare');
    assert.deepEqual(planned?.slots.filter((x) => x.endpoint).map((x) => x.address), ['127.0.20.7']);
    await socketCommand(dp.masterSocket, 'reload');
    await waitFor('HAProxy reloaded', async () => (await dp.procState()).master.reloads > now.master.reloads, { timeoutMs: 10_000 });
    await waitFor('still answering after a reload', async () => (await get('fresh.example.com')).status === 200, { timeoutMs: 15_000 });
    await kubectl('beta', ['delete', 'ingress', 'fresh']);
    await waitFor('gone', async () => (await get('fresh.example.com')).status === 404, { timeoutMs: 5000 });
  });

  it('keeps endpoint changes made at runtime through the reload of a later transaction', async () => {
    await fed.hub.idle();
    await kubectl('alpha', ['replace', '-f', '-'], endpointSlice('web', [{ address: '127.0.10.3' }]));
    await fed.echo.settled();
    await waitFor('the moved endpoint answering', async () => (await endpoints(8)).has('127.0.10.3:8080'), { timeoutMs: 5000 });
    await fed.hub.idle();
    // A new Service with its own HTTP check (no spare backend serves it): a transaction, and a
    // reload of HAProxy from its configuration.
    await kubectl('alpha', ['create', '-f', '-'], service('later'));
    await kubectl('alpha', ['create', '-f', '-'], endpointSlice('later', [{ address: '127.0.10.9' }]));
    await kubectl('alpha', ['create', '-f', '-'], ingress('later', [{ host: 'later.example.com', paths: [{ path: '/', service: 'later' }] }], {
      annotations: { 'ingressfed.io/health-check-path': '/healthz' },
    }));
    const reloadsBefore = (await fed.edges[0]!.dp.procState()).master.reloads;
    await waitFor('the new Service answering', async () => (await get('later.example.com')).status === 200, { timeoutMs: 10_000 });
    assert.ok((await fed.edges[0]!.dp.procState()).master.reloads > reloadsBefore, 'HAProxy reloaded');
    assert.deepEqual([...(await endpoints(12))].sort(), ['127.0.10.3:8080', '127.0.20.1:8080'], 'the runtime change survived the reload');
    // As the next tests expect it.
    await kubectl('alpha', ['delete', 'ingress', 'later']);
    await kubectl('alpha', ['replace', '-f', '-'], endpointSlice('web', [{ address: '127.0.10.2' }]));
    await waitFor('the endpoint back', async () => (await endpoints(8)).has('127.0.10.2:8080'), { timeoutMs: 5000 });
  });

  it('loses no route while a spoke restarts and while a watch ends with 410 Gone; the final state equals the clusters', async () => {
    const prober = startProber(`${edgeUrl}/`, 'web.example.com');
    let probed = { requests: 0, failures: 0 };
    try {
      await fed.restartSpoke('alpha');
      fed.standIn('beta').api.expireWatches();
      await kubectl('beta', ['replace', '-f', '-'], endpointSlice('web', [{ address: '127.0.20.1' }, { address: '127.0.20.2' }]));
      await fed.echo.settled();
      await waitFor('beta\'s new endpoint in the model', () => fed.hub.currentModel()?.backends.find((b) => b.id.service === 'web')?.endpoints.some((e) => e.address === '127.0.20.2'), { timeoutMs: 10_000 });
      await fed.hub.idle();
      await waitFor('the restarted spoke synced', () => fed.clusters.get('alpha')?.spoke.synced === true);
    } finally {
      probed = await prober.stop();
    }
    assert.ok(probed.requests >= 5, `probed ${probed.requests} times across the restart`);
    assert.equal(probed.failures, 0, `${probed.failures} of ${probed.requests} requests failed`);
    const eps = fed.hub.currentModel()?.backends.find((b) => b.id.service === 'web')?.endpoints.map((e) => `${e.cluster}/${e.address}`).sort();
    assert.deepEqual(eps, ['alpha/127.0.10.2', 'beta/127.0.20.1', 'beta/127.0.20.2']);
  });

  it('writes nothing to the edge and does not reload when the hub restarts with unchanged state', async () => {
    const dp = fed.edges[0]?.dp;
    assert.ok(dp);
    await fed.hub.idle();
    const version = await dp.client.getVersion();
    const reloads = (await dp.procState()).master.reloads;
    const prober = startProber(`${edgeUrl}/`, 'web.example.com');
    let probed = { requests: 0, failures: 0 };
    try {
      const hub = await fed.restartHub();
      await waitFor('the new hub applied once', () => (hub.edgeStatus()[0]?.applies ?? 0) > 0, { timeoutMs: 10_000 });
      await hub.idle();
      const st = hub.edgeStatus()[0];
      assert.equal(st?.transactions, 0, 'no transaction');
      assert.equal(st?.last?.runtimeChanges, 0, 'no runtime write');
    } finally {
      probed = await prober.stop();
    }
    assert.equal(await dp.client.getVersion(), version);
    assert.equal((await dp.procState()).master.reloads, reloads);
    assert.equal(probed.failures, 0, `${probed.failures} of ${probed.requests} requests failed`);
  });

  it('F2: refuses a record whose cluster does not match its key, and one that fails validation, affecting no other route', async () => {
    const dp = fed.edges[0]?.dp;
    assert.ok(dp);
    await fed.hub.idle();
    const version = await dp.client.getVersion();
    // As an identity that may write any key (the hub's): the hub's own checks are what is tested. The
    // keys are gamma's, a cluster with no spoke here: a running spoke rewrites any key of its own it
    // did not write (anti-entropy), which would remove these before the hub judged them.
    const nc = await fed.nats.connectAsHub();
    try {
      const kv = await new Kvm(jetstream(nc)).open(STATE_BUCKET);
      const forged = JSON.parse(JSON.stringify((await kv.get('alpha.ingress.default.web'))?.json()));
      const classKey = objectKey('gamma', 'ingressclass', undefined, 'ingressfed');
      await kv.put(classKey, JSON.stringify({ ...(await kv.get(objectKey('alpha', 'ingressclass', undefined, 'ingressfed')))?.json<object>(), cluster: 'gamma' }));
      await kv.put('gamma.ingress.default.forged', JSON.stringify({ ...forged, name: 'forged' }));
      await kv.put('gamma.ingress.default.garbage', '{"cluster":"gamma","kind":"ingress"');
      const bad = { ...forged, cluster: 'gamma', name: 'bad-host', spec: { ...forged.spec, rules: [{ host: 'a.example.com\nglobal', paths: forged.spec.rules[0].paths }] } };
      await kv.put('gamma.ingress.default.bad-host', JSON.stringify(bad));
      await waitFor('the refusals', () => fed.hub.intake.refused.has('gamma.ingress.default.forged') && fed.hub.intake.refused.has('gamma.ingress.default.garbage'));
      assert.match(fed.hub.intake.refused.get('gamma.ingress.default.forged')?.reason ?? '', /names cluster 'alpha', the key names 'gamma'/);
      assert.match(fed.hub.intake.refused.get('gamma.ingress.default.garbage')?.reason ?? '', /not valid JSON/);
      await waitFor('the invalid Ingress judged', () => fed.hub.currentModel()?.ingresses.get('gamma/default/bad-host')?.state === 'invalid');
      const st = fed.hub.currentModel()?.ingresses.get('gamma/default/bad-host');
      assert.match(st && st.state === 'invalid' ? st.reasons.join(';') : '', /spec\.rules\[0\]\.host/);
      await fed.hub.idle();
      assert.equal(await dp.client.getVersion(), version, 'the edge configuration did not change');
      assert.equal((await get('web.example.com')).status, 200);
      for (const k of ['gamma.ingress.default.forged', 'gamma.ingress.default.garbage', 'gamma.ingress.default.bad-host', classKey]) await kv.delete(k);
    } finally {
      await nc.close();
    }
  });
});
