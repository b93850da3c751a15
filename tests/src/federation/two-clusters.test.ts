import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Several clusters behind one HAProxy entry point (issue: spoke and hub end to end).

describe('federation: two clusters behind one entry point', { timeout: 180_000 }, () => {
  let fed: Federation;
  let edgeUrl: string;
  const kubectl = async (cluster: string, args: string[], input?: string): Promise<void> => {
    const r = await fed.clusters.get(cluster)?.kube.kubectl(args, input);
    assert.equal(r?.code, 0, r?.stderr);
  };
  const get = (host: string, path = '/'): Promise<{ status: number; json: () => EchoReply; body: string }> =>
    httpRequest(`${edgeUrl}${path}`, { host }).then((r) => ({ status: r.status, body: r.body, json: () => r.json<EchoReply>() }));
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
});
