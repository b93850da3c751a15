import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, startProber, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F18 of the matrix: the edge's Data Plane API is down (connections refused) while its
// HAProxy keeps running. The edge keeps serving what it had; the hub says the edge is failing and
// since when, and how many changes wait; no Ingress is reported served that is not live; once the
// API is back, every waiting change goes live.

const TOKEN = 'f18-read-token';
/** The edge loop retries with backoff up to 8 s; a waiting change goes live within that plus one apply. */
const RECOVERY_BOUND_MS = 8000 + 4000;

interface EdgeView { name: string; lastError: string | null; failingSince: string | null; pendingChanges: number }
interface KubeEvent { involvedObject: { name: string }; reason: string; message: string; type: string }

describe('faults: the Data Plane API of an edge is down', { timeout: 120_000 }, () => {
  let fed: Federation;
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  const answeredBy = async (host: string): Promise<string | undefined> => {
    const r = await httpRequest(`${edgeUrl()}/`, { host });
    return r.status === 200 ? r.json<EchoReply>().endpoint : undefined;
  };
  const edgeView = async (): Promise<EdgeView> => {
    const r = await httpRequest(`${fed.apiUrl}/api/v1/edges`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return (r.json<{ items: EdgeView[] }>().items)[0] as EdgeView;
  };
  const events = async (name: string): Promise<KubeEvent[]> =>
    (JSON.parse(await fed.kubectl('alpha', ['get', 'events', '-o', 'json'])) as { items: KubeEvent[] }).items.filter((e) => e.involvedObject.name === name);
  const addresses = (name: string): Promise<string> => fed.kubectl('alpha', ['get', 'ingress', name, '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}']);

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }],
      // No spare backends: the new Service waits for a transaction, the endpoint change for the runtime API.
      edges: [{ name: 'edge-a', zone: 'zone-a', proxied: true, spareBackends: 0 }],
      api: { tokens: [{ name: 'ops', token: TOKEN, role: 'read' }] },
    });
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: '127.0.180.1' }]),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }]),
      service('moving'), endpointSlice('moving', [{ address: '127.0.180.10' }]),
      ingress('moving', [{ host: 'moving.example.test', paths: [{ path: '/', service: 'moving' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor('both served', async () => (await answeredBy('web.example.test')) !== undefined && (await answeredBy('moving.example.test')) !== undefined, { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  it('F18: HAProxy keeps serving, the hub reports the edge failing with the age and count of waiting changes, claims nothing, and applies every waiting change once the API is back', async () => {
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    const proxy = fed.edges[0]?.proxy;
    assert.ok(proxy);
    const version = fed.hub.edgeStatus()[0]?.configurationVersion;
    await proxy.refuse(true);
    const downAt = Date.now();
    // An endpoint change (runtime, normally) and a new route with a Service of its own.
    await fed.kubectl('alpha', ['replace', '-f', '-'], endpointSlice('moving', [{ address: '127.0.180.11' }]));
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[service('added'), endpointSlice('added', [{ address: '127.0.180.20' }]),
      ingress('added', [{ host: 'added.example.test', paths: [{ path: '/', service: 'added' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();

    const failing = await waitFor('the edge reported failing with changes waiting', async () => {
      const v = await edgeView();
      return v.failingSince !== null && v.pendingChanges > 0 ? v : undefined;
    }, { timeoutMs: 10_000 });
    assert.match(failing.lastError ?? '', /ECONNREFUSED|unreachable|connect/i, failing.lastError ?? '');
    assert.ok(Date.parse(failing.failingSince as string) >= downAt - 1000, `failing since ${failing.failingSince}`);
    const ev = await waitFor('the new Ingress told it is not live', async () => (await events('added')).find((e) => e.reason === 'EdgeNotProgrammed'), { timeoutMs: 20_000 });
    assert.equal(ev.type, 'Warning');
    assert.equal(await addresses('added'), '', 'no address while no edge serves it');
    // HAProxy serves what it had (the prober's route), and not the route it was never given.
    assert.equal((await httpRequest(`${edgeUrl()}/`, { host: 'added.example.test' })).status, 404);

    await proxy.refuse(false);
    const upAt = Date.now();
    await waitFor('the moved endpoint serving', async () => (await answeredBy('moving.example.test'))?.startsWith('127.0.180.11:') === true, { timeoutMs: RECOVERY_BOUND_MS });
    await waitFor('the new route served', async () => (await answeredBy('added.example.test'))?.startsWith('127.0.180.20:') === true, { timeoutMs: RECOVERY_BOUND_MS });
    const liveAfterMs = Date.now() - upAt;
    const after = await waitFor('the edge reported healthy', async () => {
      const v = await edgeView();
      return v.failingSince === null && v.lastError === null ? v : undefined;
    }, { timeoutMs: 5000 });
    assert.equal(after.pendingChanges, 0);
    await waitFor('the new Ingress given the edge address', async () => (await addresses('added')) === '127.0.0.1', { timeoutMs: 10_000 });
    assert.notEqual(fed.hub.edgeStatus()[0]?.configurationVersion, version, 'the waiting transaction was committed');
    const { requests, failures } = await prober.stop();
    console.log(`F18: API down ${upAt - downAt} ms; every waiting change live ${liveAfterMs} ms after it was back; ${requests} probes, ${failures} failed`);
    assert.equal(failures, 0, `${failures} of ${requests} probes failed`);
    assert.ok(fed.logs.some((l) => l.includes('edge applies again')), 'the hub logged the recovery');
  });
});
