import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { STATE_BUCKET } from '@ingressfed/schemas';
import { Spoke } from '@ingressfed/spoke';
import { startKubeApi, startNats, waitFor, type KubeCluster, type NatsServer } from '../harness/index.js';
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

describe('spoke: publishes a cluster to the state bucket and keeps it equal to the cluster', { timeout: 90_000 }, () => {
  let nats: NatsServer;
  let kube: KubeCluster;
  let nc: NatsConnection;
  let kv: KV;
  let spoke: Spoke;
  const logs: string[] = [];
  const newSpoke = (): Spoke => new Spoke({
    cluster: 'alpha', zone: 'zone-a', endpointMode: 'pod', kubeconfigPath: kube.kubeconfig, natsUrl: nats.url, natsUser: nats.spoke('alpha').user, natsPassword: nats.spoke('alpha').password,
    heartbeatIntervalMs: 200, emptyListGraceMs: 1500, log: (level, msg, f) => logs.push(`${level} ${msg} ${JSON.stringify(f ?? {})}`),
  });
  const kubectl = async (args: string[], input?: string): Promise<void> => {
    const r = await kube.kubectl(args, input);
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    nats = await startNats();
    kube = await startKubeApi('alpha');
    nc = await nats.connectAsHub();
    kv = await new Kvm(jetstream(nc)).open(STATE_BUCKET);
    await kubectl(['create', '-f', '-'], ingressClass());
    spoke = newSpoke();
    await spoke.start();
  });

  after(async () => {
    await spoke?.stop();
    await nc?.close();
    await kube?.stop();
    await nats?.stop();
  });

  it('publishes an Ingress with its Service and endpoints once kubectl creates them', async () => {
    await kubectl(['create', '-f', '-'], service('web'));
    await kubectl(['create', '-f', '-'], endpointSlice('web', [{ address: '127.0.1.1', zone: 'zone-a' }]));
    await kubectl(['create', '-f', '-'], ingress('web', [{ host: 'web.example.com', paths: [{ path: '/', service: 'web' }] }]));
    const e = await waitFor('the records', async () => {
      const m = await entries(kv, 'alpha');
      return m.has('alpha.ingress.default.web') && m.has('alpha.endpoints.default.web') ? m : undefined;
    });
    assert.deepEqual([...e.keys()].sort(), ['alpha.endpoints.default.web', 'alpha.ingress.default.web', 'alpha.ingressclass._.ingressfed', 'alpha.service.default.web']);
    const hb = await kv.get('alpha._heartbeat');
    assert.equal(hb?.json<{ synced: boolean }>().synced, true);
  });

  it('follows a 410 Gone relist: a change made while the watch was expired is published', async () => {
    await waitFor('the informer watching', () => kube.api.openWatchesOf('endpointslices') > 0);
    kube.api.expireWatches();
    await kubectl(['replace', '-f', '-'], endpointSlice('web', [{ address: '127.0.1.1' }, { address: '127.0.1.2' }]));
    await waitFor('two endpoints', async () => {
      const e = await kv.get('alpha.endpoints.default.web');
      return (e?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length ?? 0) === 2;
    });
  });

  it('rewrites nothing after a restart when the cluster did not change', async () => {
    const before = await entries(kv, 'alpha');
    await spoke.stop();
    spoke = newSpoke();
    await spoke.start();
    await waitFor('the new spoke synced', async () => (await kv.get('alpha._heartbeat'))?.json<{ epoch: string; synced: boolean }>().epoch === spoke.epoch && spoke.synced && spoke.passes > 0);
    const after = await entries(kv, 'alpha');
    assert.deepEqual([...after.entries()].map(([k, v]) => [k, v.revision]), [...before.entries()].map(([k, v]) => [k, v.revision]));
  });

  it('gives every new record of a key a higher revision: after the newest slice goes, and after a restart', async () => {
    const revisionOf = async (): Promise<bigint> => BigInt((await kv.get('alpha.endpoints.default.web'))?.json<{ revision: string }>().revision ?? '0');
    const count = async (): Promise<number> => (await kv.get('alpha.endpoints.default.web'))?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length ?? 0;
    await kubectl(['create', '-f', '-'], endpointSlice('web', [{ address: '127.0.1.9' }], { name: 'web-extra' }));
    await waitFor('three endpoints', async () => (await count()) === 3);
    const withExtra = await revisionOf();
    // The slice with the highest resourceVersion goes: the merged record's sources are all older.
    await kubectl(['delete', 'endpointslice', 'web-extra']);
    await waitFor('two endpoints', async () => (await count()) === 2);
    const without = await revisionOf();
    assert.ok(without > withExtra, `${without} > ${withExtra}`);
    await spoke.stop();
    spoke = newSpoke();
    await spoke.start();
    await kubectl(['create', '-f', '-'], endpointSlice('web', [{ address: '127.0.1.9' }], { name: 'web-extra' }));
    await waitFor('three endpoints again', async () => (await count()) === 3);
    assert.ok(await revisionOf() > without);
    await kubectl(['delete', 'endpointslice', 'web-extra']);
    await waitFor('two endpoints again', async () => (await count()) === 2);
  });

  it('holds the published endpoints when a relist comes back empty, and absorbs the blip', async () => {
    await waitFor('the web endpoints published', async () => ((await kv.get('alpha.endpoints.default.web'))?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length ?? 0) > 0);
    const before = (await kv.get('alpha.endpoints.default.web'))?.revision;
    logs.length = 0;
    kube.api.emptyListsOf('endpointslices', true);
    await waitFor('the informer watching', () => kube.api.openWatchesOf('endpointslices') > 0);
    kube.api.expireWatches();
    await waitFor('the spoke to hold', () => logs.some((l) => l.includes('holding the published state')));
    assert.equal((await kv.get('alpha.endpoints.default.web'))?.revision, before, 'nothing published while held');
    kube.api.emptyListsOf('endpointslices', false);
    // The informer watches again after its list: expire that watch, not one that is still being opened.
    await waitFor('the informer to watch again', () => kube.api.openWatchesOf('endpointslices') > 0);
    kube.api.expireWatches();
    await waitFor('the informer relisted the slices', () => (spoke.cacheSizes().endpointSlices ?? 0) > 0);
    await spoke.idle();
    assert.equal((await kv.get('alpha.endpoints.default.web'))?.revision, before, 'the blip never reached the bucket');
  });

  it('believes an empty relist that lasts the grace period', async () => {
    logs.length = 0;
    kube.api.emptyListsOf('endpointslices', true);
    await waitFor('the informer watching', () => kube.api.openWatchesOf('endpointslices') > 0);
    kube.api.expireWatches();
    await waitFor('the emptiness published after the grace period', async () =>
      (await kv.get('alpha.endpoints.default.web'))?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length === 0, { timeoutMs: 10_000 });
    assert.ok(logs.some((l) => l.includes('holding the published state')), 'it was held first');
    kube.api.emptyListsOf('endpointslices', false);
    await waitFor('the informer to watch again', () => kube.api.openWatchesOf('endpointslices') > 0);
    kube.api.expireWatches();
    await waitFor('the endpoints back', async () => ((await kv.get('alpha.endpoints.default.web'))?.json<{ spec: { endpoints: unknown[] } }>().spec.endpoints.length ?? 0) > 0);
  });

  it('deletes nothing while the API server is down, and converges when it is back', async () => {
    const before = await entries(kv, 'alpha');
    const port = Number(new URL(kube.api.url).port);
    await kube.api.stop();
    await waitFor('an informer to fail', () => logs.some((l) => l.includes('informer stopped; restarting')), { timeoutMs: 15_000 });
    const during = await entries(kv, 'alpha');
    assert.deepEqual([...during.keys()], [...before.keys()], 'no key was deleted');
    await kube.api.start(port);
    await kubectl(['delete', 'ingress', 'web']);
    await waitFor('the deleted Ingress and its Service to leave the bucket', async () => {
      const m = await entries(kv, 'alpha');
      return !m.has('alpha.ingress.default.web') && !m.has('alpha.service.default.web') && !m.has('alpha.endpoints.default.web');
    }, { timeoutMs: 20_000 });
    assert.ok((await entries(kv, 'alpha')).has('alpha.ingressclass._.ingressfed'));
  });
});
