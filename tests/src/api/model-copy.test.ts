import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { objectKey } from '@ingressfed/schemas';
import { seededRandom } from '@ingressfed/schemas/testing';
import { IncrementalMerge, backendKey } from '@ingressfed/hub';
import { MODEL_BACKENDS_KEY, MODEL_ROUTES_KEY, RedisStore } from '@ingressfed/hub/internal';
import { startRedis, type RedisServer } from '../harness/index.js';

// The model copy in Redis, written as a diff of consecutive models, always equals the model.

describe('model copy in Redis', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let store: RedisStore;

  before(async () => {
    redis = await startRedis();
    store = new RedisStore(redis.url);
    await store.connect();
  });

  after(async () => {
    await store?.close();
    await redis?.stop();
  });

  it('reports a Redis that refuses the hub (no password) as an error, and writes nothing', async () => {
    const refused = new RedisStore(redis.address);
    try {
      await refused.connect();
      assert.equal(await refused.saveModel(undefined, new IncrementalMerge().model()), false);
      assert.match(refused.lastError ?? '', /NOAUTH/);
    } finally {
      await refused.close();
    }
  });

  it('equals the model after each of 60 random changes, each written as a diff', async () => {
    const r = seededRandom(3);
    const merge = new IncrementalMerge();
    const base = (cluster: string) => ({ schema: 1 as const, cluster, epoch: 'e', observedAt: 0, revision: '1', source: { uid: 'u', resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z' } });
    merge.put(objectKey('a', 'ingressclass', undefined, 'ingressfed'), { ...base('a'), kind: 'ingressclass', name: 'ingressfed', spec: { controller: 'ingressfed.io/hub', isDefault: true, annotations: {} } });
    let prev;
    for (let step = 0; step < 60; step++) {
      const i = Math.floor(r() * 8);
      const gone = r() < 0.2;
      merge.put(objectKey('a', 'ingress', 'default', `i${i}`), gone ? undefined : { ...base('a'), kind: 'ingress', namespace: 'default', name: `i${i}`,
        spec: { className: null, annotations: {}, defaultBackend: null, tls: [], rules: [{ host: `h${i}.example.test`, paths: [{ path: r() < 0.5 ? '/' : '/api', pathType: 'Prefix', backend: { service: { name: `s${Math.floor(r() * 4)}`, port: { number: 80 } } } }] }] } });
      merge.put(objectKey('a', 'service', 'default', `s${i % 4}`), { ...base('a'), kind: 'service', namespace: 'default', name: `s${i % 4}`, spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: null }], loadBalancerIngress: [], annotations: {} } });
      merge.put(objectKey('a', 'endpoints', 'default', `s${i % 4}`), { ...base('a'), kind: 'endpoints', namespace: 'default', name: `s${i % 4}`,
        spec: { endpoints: [{ address: `10.0.0.${Math.floor(r() * 9) + 1}`, ready: true, serving: true, terminating: false, zone: null, nodeName: null, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }] } });
      const model = merge.model();
      assert.equal(await store.saveModel(prev, model), true, store.lastError);
      prev = model;
      const routes = await store.redis.hgetall(MODEL_ROUTES_KEY);
      const backends = await store.redis.hgetall(MODEL_BACKENDS_KEY);
      assert.deepEqual(routes, Object.fromEntries(model.routes.map((x) => [`${x.host} ${x.path} ${x.pathType}`, backendKey(x.backend)])), `routes at step ${step}`);
      assert.deepEqual(backends, Object.fromEntries(model.backends.map((b) => [backendKey(b.id), JSON.stringify(b.endpoints)])), `backends at step ${step}`);
    }
  });
});
