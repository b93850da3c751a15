import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEchoServer, startFederation, waitFor, type EchoServer, type Federation } from '../harness/index.js';
import { ingress, ingressClass } from '../kube/manifests.js';
import { create, whoAnswers } from '../semantics/fixtures.js';

// Endpoint modes: a nodeport spoke reaches Services through Ready nodes' nodePorts; a Service can ask
// for its load balancer's address instead.

async function putStatus(apiUrl: string, path: string, status: unknown): Promise<void> {
  const cur = await fetch(`${apiUrl}${path}`).then((r) => r.json()) as Record<string, unknown>;
  const res = await fetch(`${apiUrl}${path}/status`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...cur, status }) });
  assert.equal(res.status, 200, await res.text());
}

describe('endpoint modes: nodeport and loadbalancer', { timeout: 120_000 }, () => {
  let fed: Federation;
  let edge: string;
  const echoes: EchoServer[] = [];

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }], endpointMode: 'nodeport' });
    edge = fed.edges[0]?.url as string;
    const api = fed.standIn('alpha').api;
    assert.ok(api);
    echoes.push(await startEchoServer('127.0.140.1', { service: 'via-node-1' }, 30080), await startEchoServer('127.0.140.2', { service: 'via-node-2' }, 30080),
      await startEchoServer('127.0.140.3', { service: 'via-node-3' }, 30080));
    echoes.push(await startEchoServer('127.0.141.1', { service: 'via-lb' }, 8081));
    await create(fed, 'alpha', [ingressClass(),
      ...['n1', 'n2', 'n3'].map((n) => JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: n, labels: { 'topology.kubernetes.io/zone': 'zone-a' } } })),
      JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'np', namespace: 'default' }, spec: { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }] } }),
      JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'lb', namespace: 'default', annotations: { 'ingressfed.io/endpoint-mode': 'loadbalancer' } }, spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 8081, targetPort: 8080, nodePort: 30081 }] } }),
      ingress('np', [{ host: 'np.example.test', paths: [{ path: '/', service: 'np' }] }]),
      ingress('lb', [{ host: 'lb.example.test', paths: [{ path: '/', service: 'lb', port: 8081 }] }])]);
    for (const [n, ip, ready] of [['n1', '127.0.140.1', true], ['n2', '127.0.140.2', true], ['n3', '127.0.140.3', false]] as const) {
      await putStatus(api.url, `/api/v1/nodes/${n}`, { addresses: [{ type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] });
    }
    await putStatus(api.url, '/api/v1/namespaces/default/services/lb', { loadBalancer: { ingress: [{ ip: '127.0.141.1' }] } });
  });

  after(async () => {
    await fed?.stop();
    for (const e of echoes) await e.stop();
  });

  it('nodeport: requests reach the Ready nodes on the nodePort, never the NotReady one', async () => {
    const seen = await waitFor('both ready nodes answering', async () => {
      const s = new Set<string>();
      for (let i = 0; i < 8; i++) s.add(await whoAnswers(edge, 'np.example.test', '/'));
      return s.size === 2 && s.has('via-node-1') && s.has('via-node-2') ? s : undefined;
    }, { timeoutMs: 20_000 });
    assert.deepEqual([...seen].sort(), ['via-node-1', 'via-node-2']);
    for (let i = 0; i < 12; i++) assert.notEqual(await whoAnswers(edge, 'np.example.test', '/'), 'via-node-3', 'the NotReady node gets no request');
    const slots = fed.hub.currentModel()?.backends.find((b) => b.id.service === 'np')?.endpoints.map((e) => `${e.address}:${e.port} ${e.ready}`);
    assert.deepEqual(slots, ['127.0.140.1:30080 true', '127.0.140.2:30080 true', '127.0.140.3:30080 false']);
  });

  it('loadbalancer (by Service annotation): requests reach the load balancer address', async () => {
    await waitFor('the lb route', async () => (await whoAnswers(edge, 'lb.example.test', '/')) === 'via-lb', { timeoutMs: 20_000 });
  });
});
