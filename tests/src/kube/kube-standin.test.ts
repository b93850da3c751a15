import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeConfig, NetworkingV1Api, makeInformer, type V1Ingress } from '@kubernetes/client-node';
import { startKubeStandIn, waitFor, type KubeStandIn } from '../harness/index.js';

const ingressYaml = (name: string, host: string): string => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: default
spec:
  ingressClassName: ingressfed
  rules:
  - host: ${host}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
`;

describe('kube stand-in: the real kubectl and client-node informers work against it', { timeout: 60_000 }, () => {
  let k: KubeStandIn;

  before(async () => {
    k = await startKubeStandIn('a', { bookmarkIntervalMs: 200 });
  });
  after(async () => {
    await k?.stop();
  });

  it('kubectl creates, gets, replaces and deletes an Ingress', async () => {
    const c = await k.kubectl(['create', '-f', '-'], ingressYaml('web', 'a.example.com'));
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /ingress.networking.k8s.io\/web created/);
    const g = await k.kubectl(['get', 'ingress', 'web', '-o', 'jsonpath={.spec.rules[0].host}']);
    assert.equal(g.stdout, 'a.example.com');
    const r = await k.kubectl(['replace', '-f', '-'], ingressYaml('web', 'b.example.com'));
    assert.equal(r.code, 0, r.stderr);
    const g2 = await k.kubectl(['get', 'ing', 'web', '-o', 'jsonpath={.spec.rules[0].host} {.metadata.generation}']);
    assert.equal(g2.stdout, 'b.example.com 2');
    const d = await k.kubectl(['delete', 'ingress', 'web']);
    assert.equal(d.code, 0, d.stderr);
    const gone = await k.kubectl(['get', 'ingress', 'web']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound|not found/);
  });

  it('kubectl gets the other kinds the spoke watches, and strict validation refuses unknown fields', async () => {
    const g = await k.kubectl(['get', 'services,endpointslices,ingressclasses,nodes,secrets', '-A']);
    assert.equal(g.code, 0, g.stderr);
    const bad = await k.kubectl(['create', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\nbogus: 1\n');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown field "bogus"/);
  });

  it('feeds a client-node informer: add, update, delete, a dropped watch and a 410 relist', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(k.kubeconfig);
    const api = kc.makeApiClient(NetworkingV1Api);
    const informer = makeInformer<V1Ingress>(kc, '/apis/networking.k8s.io/v1/ingresses', () => api.listIngressForAllNamespaces());
    const events: string[] = [];
    informer.on('add', (o) => events.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => events.push(`update ${o.metadata?.name} ${o.spec?.rules?.[0]?.host}`));
    informer.on('delete', (o) => events.push(`delete ${o.metadata?.name}`));
    await k.kubectl(['create', '-f', '-'], ingressYaml('one', 'one.example.com'));
    await informer.start();
    try {
      await waitFor('the listed ingress', () => events.includes('add one'));
      await k.kubectl(['create', '-f', '-'], ingressYaml('two', 'two.example.com'));
      await waitFor('the watched add', () => events.includes('add two'));

      k.api.dropWatches();
      // Changes while no watch is open are replayed from the resume version.
      await k.kubectl(['replace', '-f', '-'], ingressYaml('two', 'two-b.example.com'));
      await waitFor('the replayed update', () => events.includes('update two two-b.example.com'), { timeoutMs: 15_000 });

      k.api.expireWatches();
      await k.kubectl(['delete', 'ingress', 'one']);
      await waitFor('the delete seen after the 410 relist', () => events.includes('delete one'), { timeoutMs: 15_000 });
      assert.deepEqual(informer.list().map((o) => o.metadata?.name).sort(), ['two'], 'the cache equals the cluster');
    } finally {
      await informer.stop();
    }
  });

  it('answers a watch from a compacted version with 410 Gone, and sends bookmarks', async () => {
    const list = await fetch(`${k.api.url}/apis/networking.k8s.io/v1/ingresses`).then((r) => r.json()) as { metadata: { resourceVersion: string } };
    k.api.store.compactAll();
    const gone = await fetch(`${k.api.url}/apis/networking.k8s.io/v1/ingresses?watch=true&resourceVersion=1`).then((r) => r.text());
    assert.match(gone, /"type":"ERROR".*"code":410/);
    const ctl = new AbortController();
    const res = await fetch(`${k.api.url}/apis/networking.k8s.io/v1/ingresses?watch=true&allowWatchBookmarks=true&resourceVersion=${list.metadata.resourceVersion}`, { signal: ctl.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    await waitFor('a bookmark', async () => {
      const { value } = await reader.read();
      text += Buffer.from(value ?? new Uint8Array()).toString();
      return text.includes('"type":"BOOKMARK"');
    }, { timeoutMs: 5000, intervalMs: 1 });
    ctl.abort();
  });

  it('stalls watches: held open and silent while lists answer; unstalling ends them without a byte written', async () => {
    const url = `${k.api.url}/apis/networking.k8s.io/v1/ingresses`;
    const { metadata } = await fetch(url).then((r) => r.json()) as { metadata: { resourceVersion: string } };
    k.api.stallWatches(true);
    const res = await fetch(`${url}?watch=true&allowWatchBookmarks=true&resourceVersion=${metadata.resourceVersion}`);
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = reader.read();
    const c = await k.kubectl(['create', '-f', '-'], ingressYaml('silent', 'silent.example.com'));
    assert.equal(c.code, 0, c.stderr);
    const listed = await fetch(url).then((r) => r.json()) as { items: Array<{ metadata: { name: string } }> };
    assert.ok(listed.items.some((i) => i.metadata.name === 'silent'), 'lists still answer');
    assert.equal(k.api.openWatches, 1);
    k.api.stallWatches(false);
    assert.deepEqual(await first, { done: true, value: undefined }, 'no event and no bookmark was written');
    assert.equal(k.api.openWatches, 0);
  });

  it("refuses an object whose annotations exceed the API server's 256 KiB, and accepts one at the limit", async () => {
    const withAnnotation = (name: string, bytes: number): string => JSON.stringify({
      apiVersion: 'v1', kind: 'Service', metadata: { name, annotations: { big: 'x'.repeat(bytes - 'big'.length) } }, spec: { ports: [{ port: 80 }] },
    });
    const over = await k.kubectl(['create', '-f', '-'], withAnnotation('over', 256 * 1024 + 1));
    assert.notEqual(over.code, 0);
    assert.match(over.stderr, /metadata\.annotations: Too long: may not be more than 262144 bytes/);
    const at = await k.kubectl(['create', '-f', '-'], withAnnotation('at', 256 * 1024));
    assert.equal(at.code, 0, at.stderr);
  });
});
