import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { STATE_BUCKET } from '@ingressfed/schemas';
import { Spoke } from '@ingressfed/spoke';
import { startKubeStandIn, startKubernetes, startNats, waitFor, type KubeCluster, type KubeStandIn, type NatsServer } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

async function entries(kv: KV, cluster: string): Promise<Map<string, { revision: number; value: Record<string, unknown> }>> {
  const out = new Map<string, { revision: number; value: Record<string, unknown> }>();
  for await (const k of await kv.keys(`${cluster}.>`)) {
    if (k.endsWith('._heartbeat') || k.endsWith('._info')) continue;
    const e = await kv.get(k);
    if (e && e.operation === 'PUT') out.set(k, { revision: e.revision, value: e.json() });
  }
  return out;
}


/** A spoke of cluster alpha on `startKube`'s API server, publishing to a real nats-server. */
function spokeSuite<K extends KubeCluster>(startKube: () => Promise<K>) {
  const t = {
    nats: undefined as unknown as NatsServer,
    kube: undefined as unknown as K,
    kv: undefined as unknown as KV,
    spoke: undefined as unknown as Spoke,
    logs: [] as string[],
    newSpoke: (): Spoke => new Spoke({
      cluster: 'alpha', zone: 'zone-a', endpointMode: 'pod', kubeconfigPath: t.kube.spokeKubeconfig, natsUrl: t.nats.url,
      natsUser: t.nats.spoke('alpha').user, natsPassword: t.nats.spoke('alpha').password,
      heartbeatIntervalMs: 200, emptyListGraceMs: 1500, log: (level, msg, f) => t.logs.push(`${level} ${msg} ${JSON.stringify(f ?? {})}`),
    }),
    kubectl: async (args: string[], input?: string): Promise<void> => {
      const r = await t.kube.kubectl(args, input);
      assert.equal(r.code, 0, r.stderr);
    },
  };
  let nc: NatsConnection | undefined;
  before(async () => {
    t.nats = await startNats();
    t.kube = await startKube();
    nc = await t.nats.connectAsHub();
    t.kv = await new Kvm(jetstream(nc)).open(STATE_BUCKET);
    await t.kubectl(['create', '-f', '-'], ingressClass());
    t.spoke = t.newSpoke();
    await t.spoke.start();
  });
  after(async () => {
    await t.spoke?.stop();
    await nc?.close();
    await t.kube?.stop();
    await t.nats?.stop();
  });
  return t;
}

/** The starting point of both suites: an Ingress, its Service and one endpoint, published. */
function itPublishesWeb(t: { kubectl: (args: string[], input?: string) => Promise<void>; kv: KV }, address: string): void {
  it('publishes an Ingress with its Service and endpoints once kubectl creates them', async () => {
    await t.kubectl(['create', '-f', '-'], service('web'));
    await t.kubectl(['create', '-f', '-'], endpointSlice('web', [{ address, zone: 'zone-a' }]));
    await t.kubectl(['create', '-f', '-'], ingress('web', [{ host: 'web.example.com', paths: [{ path: '/', service: 'web' }] }]));
    const e = await waitFor('the records', async () => {
      const m = await entries(t.kv, 'alpha');
      return m.has('alpha.ingress.default.web') && m.has('alpha.endpoints.default.web') ? m : undefined;
    });
    assert.deepEqual([...e.keys()].sort(), ['alpha.endpoints.default.web', 'alpha.ingress.default.web', 'alpha.ingressclass._.ingressfed', 'alpha.service.default.web']);
    const hb = await t.kv.get('alpha._heartbeat');
    assert.equal(hb?.json<{ synced: boolean }>().synced, true);
  });
}

describe('spoke: publishes a cluster to the state bucket and keeps it equal to the cluster (a real kube-apiserver, as deploy/spoke\'s ServiceAccount)', { timeout: 120_000 }, () => {
  const t = spokeSuite(() => startKubernetes('alpha'));

  itPublishesWeb(t, '10.244.1.1');

  it('publishes a change the watch delivers', async () => {
    await t.kubectl(['replace', '-f', '-'], endpointSlice('web', [{ address: '10.244.1.1' }, { address: '10.244.1.2' }]));
    await waitFor('two endpoints', async () => {
      const e = await t.kv.get('alpha.endpoints.default.web');
      return (e?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length ?? 0) === 2;
    });
  });

  it('rewrites nothing after a restart when the cluster did not change', async () => {
    const before = await entries(t.kv, 'alpha');
    await t.spoke.stop();
    t.spoke = t.newSpoke();
    await t.spoke.start();
    await waitFor('the new spoke synced', async () => (await t.kv.get('alpha._heartbeat'))?.json<{ epoch: string; synced: boolean }>().epoch === t.spoke.epoch && t.spoke.synced && t.spoke.passes > 0);
    const after = await entries(t.kv, 'alpha');
    assert.deepEqual([...after.entries()].map(([k, v]) => [k, v.revision]), [...before.entries()].map(([k, v]) => [k, v.revision]));
  });

  it('gives every new record of a key a higher revision: after the newest slice goes, and after a restart', async () => {
    const revisionOf = async (): Promise<bigint> => BigInt((await t.kv.get('alpha.endpoints.default.web'))?.json<{ revision: string }>().revision ?? '0');
    const count = async (): Promise<number> => (await t.kv.get('alpha.endpoints.default.web'))?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length ?? 0;
    await t.kubectl(['create', '-f', '-'], endpointSlice('web', [{ address: '10.244.1.9' }], { name: 'web-extra' }));
    await waitFor('three endpoints', async () => (await count()) === 3);
    const withExtra = await revisionOf();
    // The slice with the highest resourceVersion goes: the merged record's sources are all older.
    await t.kubectl(['delete', 'endpointslice', 'web-extra']);
    await waitFor('two endpoints', async () => (await count()) === 2);
    const without = await revisionOf();
    assert.ok(without > withExtra, `${without} > ${withExtra}`);
    await t.spoke.stop();
    t.spoke = t.newSpoke();
    await t.spoke.start();
    await t.kubectl(['create', '-f', '-'], endpointSlice('web', [{ address: '10.244.1.9' }], { name: 'web-extra' }));
    await waitFor('three endpoints again', async () => (await count()) === 3);
    assert.ok(await revisionOf() > without);
    await t.kubectl(['delete', 'endpointslice', 'web-extra']);
    await waitFor('two endpoints again', async () => (await count()) === 2);
  });

  it('is refused what deploy/spoke does not grant it: reading a Secret by name, writing an Ingress', async () => {
    const get = await t.kube.kubectlAsSpoke(['get', 'secret', 'anything', '-n', 'default']);
    assert.match(get.stderr, /forbidden: User "system:serviceaccount:ingressfed-system:ingressfed-spoke" cannot get resource "secrets"/);
    const del = await t.kube.kubectlAsSpoke(['delete', 'ingress', 'web', '-n', 'default']);
    assert.match(del.stderr, /forbidden: .* cannot delete resource "ingresses"/);
  });
});

// What a real API server cannot be made to do on demand: expire every watch (410 Gone), answer a
// list with nothing, go away and come back on the same address. The stand-in does it.
describe('spoke: relists, empty lists and an API server gone (the stand-in\'s fault controls)', { timeout: 90_000 }, () => {
  const t = spokeSuite<KubeStandIn>(() => startKubeStandIn('alpha'));

  itPublishesWeb(t, '127.0.1.1');

  it('follows a 410 Gone relist: a change made while the watch was expired is published', async () => {
    await waitFor('the informer watching', () => t.kube.api.openWatchesOf('endpointslices') > 0);
    t.kube.api.expireWatches();
    await t.kubectl(['replace', '-f', '-'], endpointSlice('web', [{ address: '127.0.1.1' }, { address: '127.0.1.2' }]));
    await waitFor('two endpoints', async () => {
      const e = await t.kv.get('alpha.endpoints.default.web');
      return (e?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length ?? 0) === 2;
    });
  });

  it('holds the published endpoints when a relist comes back empty, and absorbs the blip', async () => {
    await waitFor('the web endpoints published', async () => ((await t.kv.get('alpha.endpoints.default.web'))?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length ?? 0) > 0);
    const before = (await t.kv.get('alpha.endpoints.default.web'))?.revision;
    t.logs.length = 0;
    t.kube.api.emptyListsOf('endpointslices', true);
    await waitFor('the informer watching', () => t.kube.api.openWatchesOf('endpointslices') > 0);
    t.kube.api.expireWatches();
    await waitFor('the spoke to hold', () => t.logs.some((l) => l.includes('holding the published state')));
    assert.equal((await t.kv.get('alpha.endpoints.default.web'))?.revision, before, 'nothing published while held');
    t.kube.api.emptyListsOf('endpointslices', false);
    // The informer watches again after its list: expire that watch, not one that is still being opened.
    await waitFor('the informer to watch again', () => t.kube.api.openWatchesOf('endpointslices') > 0);
    t.kube.api.expireWatches();
    await waitFor('the informer relisted the slices', () => (t.spoke.cacheSizes().endpointSlices ?? 0) > 0);
    await t.spoke.idle();
    assert.equal((await t.kv.get('alpha.endpoints.default.web'))?.revision, before, 'the blip never reached the bucket');
  });

  it('believes an empty relist that lasts the grace period', async () => {
    t.logs.length = 0;
    t.kube.api.emptyListsOf('endpointslices', true);
    await waitFor('the informer watching', () => t.kube.api.openWatchesOf('endpointslices') > 0);
    t.kube.api.expireWatches();
    await waitFor('the emptiness published after the grace period', async () =>
      (await t.kv.get('alpha.endpoints.default.web'))?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length === 0, { timeoutMs: 10_000 });
    assert.ok(t.logs.some((l) => l.includes('holding the published state')), 'it was held first');
    t.kube.api.emptyListsOf('endpointslices', false);
    await waitFor('the informer to watch again', () => t.kube.api.openWatchesOf('endpointslices') > 0);
    t.kube.api.expireWatches();
    await waitFor('the endpoints back', async () => ((await t.kv.get('alpha.endpoints.default.web'))?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length ?? 0) > 0);
  });

  it('deletes nothing while the API server is down, and converges when it is back', async () => {
    const before = await entries(t.kv, 'alpha');
    const port = Number(new URL(t.kube.api.url).port);
    await t.kube.api.stop();
    await waitFor('an informer to fail', () => t.logs.some((l) => l.includes('informer stopped; restarting')), { timeoutMs: 15_000 });
    const during = await entries(t.kv, 'alpha');
    assert.deepEqual([...during.keys()], [...before.keys()], 'no key was deleted');
    await t.kube.api.start(port);
    await t.kubectl(['delete', 'ingress', 'web']);
    await waitFor('the deleted Ingress and its Service to leave the bucket', async () => {
      const m = await entries(t.kv, 'alpha');
      return !m.has('alpha.ingress.default.web') && !m.has('alpha.service.default.web') && !m.has('alpha.endpoints.default.web');
    }, { timeoutMs: 20_000 });
    assert.ok((await entries(t.kv, 'alpha')).has('alpha.ingressclass._.ingressfed'));
  });
});
