import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { SCHEMA_VERSION, STATE_BUCKET, heartbeatKey, infoKey } from '@ingressfed/schemas';
import { httpRequest, startFederation, startProber, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice } from '../kube/manifests.js';
import { deployWeb } from './fixtures.js';

// Readiness, two edges in two zones, and a spoke that goes silent.

describe('failover: readiness, edges per zone, silent spokes', { timeout: 180_000 }, () => {
  let fed: Federation;
  const serving = async (edgeUrl: string, n: number, what: 'zone' | 'endpoint' = 'zone'): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await httpRequest(`${edgeUrl}/`, { host: 'web.example.test' });
      seen.add(r.status === 200 ? String(r.json<EchoReply>()[what]) : `status ${r.status}`);
    }
    return seen;
  };
  const edge = (zone: string): string => fed.edges.find((e) => e.config.zone === zone)?.url as string;

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }],
      edges: [{ name: 'edge-a', zone: 'zone-a' }, { name: 'edge-b', zone: 'zone-b' }],
      heartbeatIntervalMs: 200,
      hub: { staleAfterMs: 1000 },
    });
    await deployWeb(fed, {
      alpha: [{ address: '127.0.120.1', zone: 'zone-a' }, { address: '127.0.120.2', zone: 'zone-a' }],
      beta: [{ address: '127.0.121.1', zone: 'zone-b' }],
    });
    await waitFor('both edges placing all endpoints', () => fed.hub.edgeStatus().every((e) => (e.last?.plan.backends[1]?.slots.filter((s) => s.endpoint).length ?? 0) === 3), { timeoutMs: 20_000 });
    await fed.echo.settled();
  });

  after(async () => {
    await fed?.stop();
  });

  it('two edges in zones a and b each serve their own zone first', async () => {
    assert.deepEqual([...(await serving(edge('zone-a'), 8))], ['zone-a']);
    assert.deepEqual([...(await serving(edge('zone-b'), 8))], ['zone-b']);
  });

  it('takes traffic off endpoints marked not ready within 1 s, without a reload', async () => {
    const dp = fed.edges[0]?.dp;
    assert.ok(dp);
    const reloads = (await dp.procState()).master.reloads;
    const t0 = Date.now();
    const r = await fed.clusters.get('alpha')?.kube.kubectl(['replace', '-f', '-'],
      endpointSlice('web', [{ address: '127.0.120.1', ready: false, zone: 'zone-a' }, { address: '127.0.120.2', zone: 'zone-a' }]));
    assert.equal(r?.code, 0, r?.stderr);
    await waitFor('127.0.120.1 out of rotation', async () => !(await serving(edge('zone-a'), 6, 'endpoint')).has('127.0.120.1:8080'), { timeoutMs: 1000, intervalMs: 5 });
    console.log(`not-ready endpoint out of rotation ${Date.now() - t0} ms after kubectl replace`);
    assert.deepEqual([...(await serving(edge('zone-a'), 10, 'endpoint'))], ['127.0.120.2:8080']);
    assert.equal((await dp.procState()).master.reloads, reloads, 'no reload');
    const back = await fed.clusters.get('alpha')?.kube.kubectl(['replace', '-f', '-'],
      endpointSlice('web', [{ address: '127.0.120.1', zone: 'zone-a' }, { address: '127.0.120.2', zone: 'zone-a' }]));
    assert.equal(back?.code, 0);
    await waitFor('both back', async () => [...(await serving(edge('zone-a'), 6, 'endpoint'))].sort().join() === '127.0.120.1:8080,127.0.120.2:8080', { timeoutMs: 5000 });
  });

  it('keeps a silent cluster\'s routes and servers (stale), and fails over by health checks when its endpoints die', async () => {
    const prober = startProber(`${edge('zone-a')}/`, 'web.example.test');
    let probed = { requests: 0, failures: 0 };
    try {
      await fed.clusters.get('alpha')?.spoke.stop();
      await waitFor('alpha marked stale', () => fed.hub.clusters().find((c) => c.name === 'alpha')?.state === 'stale', { timeoutMs: 5000 });
      const m = fed.hub.currentModel();
      assert.ok(m?.routes.some((r) => r.host === 'web.example.test'), 'the route stays');
      assert.equal(m?.backends[0]?.endpoints.filter((e) => e.cluster === 'alpha').length, 2, 'the stale cluster\'s servers stay');
      assert.deepEqual([...(await serving(edge('zone-a'), 6))], ['zone-a'], 'still served by the silent cluster while healthy');
      await fed.echo.fail((meta) => meta.cluster === 'alpha');
      await waitFor('traffic on zone b', async () => {
        const z = await serving(edge('zone-a'), 6);
        return z.size === 1 && z.has('zone-b');
      }, { timeoutMs: 5000 });
    } finally {
      probed = await prober.stop();
    }
    assert.equal(probed.failures, 0, `${probed.failures} of ${probed.requests} probes failed`);
    await fed.echo.recover();
    const spoke = fed.newSpoke('alpha');
    await spoke.start();
    (fed.clusters.get('alpha') as { spoke: typeof spoke }).spoke = spoke;
    await waitFor('alpha live again', () => fed.hub.clusters().find((c) => c.name === 'alpha')?.state === 'live', { timeoutMs: 5000 });
    await waitFor('zone a serving again', async () => {
      const z = await serving(edge('zone-a'), 6);
      return z.size === 1 && z.has('zone-a');
    }, { timeoutMs: 10_000 });
  });

  it('calls a cluster that never sent a heartbeat stale, never live, until its first heartbeat', async () => {
    // gamma's own identity writes its info and no heartbeat (a spoke that stopped at once, or a forgery).
    const nc = await fed.nats.connectAsSpoke('gamma');
    try {
      const kv = await new Kvm(jetstream(nc)).open(STATE_BUCKET, { allow_direct: true });
      await kv.put(infoKey('gamma'), JSON.stringify({ schema: SCHEMA_VERSION, cluster: 'gamma', zone: 'zone-c', region: null, endpointMode: 'pod', spokeVersion: 'x', epoch: 'e', startedAt: Date.now() }));
      const state = (): string | undefined => fed.hub.clusters().find((c) => c.name === 'gamma')?.state;
      await waitFor('gamma known to the hub', () => state() !== undefined);
      assert.equal(state(), 'stale');
      await kv.put(heartbeatKey('gamma'), JSON.stringify({ schema: SCHEMA_VERSION, cluster: 'gamma', epoch: 'e', time: Date.now(), objectCount: 0, digest: 'a'.repeat(64), synced: true }));
      await waitFor('gamma live after its heartbeat', () => state() === 'live', { timeoutMs: 5000 });
      await kv.delete(heartbeatKey('gamma'));
      await kv.delete(infoKey('gamma'));
    } finally {
      await nc.close();
    }
  });
});

describe('failover: expireAfter removes a silent cluster\'s endpoints', { timeout: 120_000 }, () => {
  let fed: Federation;

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }],
      heartbeatIntervalMs: 200,
      hub: { staleAfterMs: 500, expireAfterMs: 1500 },
    });
    await deployWeb(fed, { alpha: [{ address: '127.0.122.1', zone: 'zone-a' }], beta: [{ address: '127.0.123.1', zone: 'zone-b' }] });
    await waitFor('both endpoints placed', () => (fed.hub.edgeStatus()[0]?.last?.plan.backends[1]?.slots.filter((s) => s.endpoint).length ?? 0) === 2, { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  it('marks it stale, then expired, and only then drops its endpoints', async () => {
    await fed.clusters.get('alpha')?.spoke.stop();
    await waitFor('stale', () => fed.hub.clusters().find((c) => c.name === 'alpha')?.state === 'stale', { timeoutMs: 5000 });
    assert.equal(fed.hub.currentModel()?.backends[0]?.endpoints.length, 2);
    await waitFor('expired', () => fed.hub.clusters().find((c) => c.name === 'alpha')?.state === 'expired', { timeoutMs: 5000 });
    await waitFor('its endpoints dropped', () => fed.hub.currentModel()?.backends[0]?.endpoints.map((e) => e.cluster).join() === 'beta', { timeoutMs: 5000 });
    await fed.hub.idle();
    const r = await httpRequest(`${fed.edges[0]?.url}/`, { host: 'web.example.test' });
    assert.equal(r.json<EchoReply>().cluster, 'beta');
  });
});
