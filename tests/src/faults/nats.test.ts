import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, startProber, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F5 of the matrix: NATS is down longer than ten reconnect waits (10 × 500 ms). The edges
// keep serving, the hub says it is not ready and why, everyone reconnects, and what changed in a
// cluster meanwhile goes live afterwards.

const TOKEN = 'faults-nats-token-0123456789';

describe('faults: NATS', { timeout: 120_000 }, () => {
  let fed: Federation;
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  const hubView = async (): Promise<{ ready: boolean; notReady: string | null; nats: { connected: boolean; downForMs: number | null } }> =>
    (await httpRequest(`${fed.apiUrl}/api/v1/hub`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }], api: { tokens: [{ name: 'ops', token: TOKEN, role: 'read' }] } });
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: '127.0.190.1' }]),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor('web served', async () => (await httpRequest(`${edgeUrl()}/`, { host: 'web.example.test' })).status === 200, { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  it('F5: NATS down for more than ten reconnect waits: traffic served, readiness false with the reason, reconnection, the change made meanwhile goes live', async () => {
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    assert.equal((await httpRequest(`${fed.apiUrl}/readyz`)).status, 200);
    await fed.nats.kill();
    const notReady = await waitFor('readiness false', async () => {
      const r = await httpRequest(`${fed.apiUrl}/readyz`);
      return r.status === 503 ? r.json<{ message: string }>().message : undefined;
    }, { timeoutMs: 10_000 });
    assert.match(notReady, /NATS is unreachable/);
    // A change in the cluster while NATS is away.
    await fed.kubectl('alpha', ['create', '-f', '-'], ingress('during', [{ host: 'during.example.test', paths: [{ path: '/', service: 'web' }] }]));
    // The outage lasts past ten reconnect waits, as the hub itself measures it.
    await waitFor('NATS down for 5.5 s', async () => ((await hubView()).nats.downForMs ?? 0) > 5500, { timeoutMs: 15_000, intervalMs: 250 });
    assert.equal((await hubView()).nats.connected, false);
    await fed.nats.start();
    await waitFor('ready again', async () => (await httpRequest(`${fed.apiUrl}/readyz`)).status === 200, { timeoutMs: 20_000 });
    await waitFor('the change made during the outage served', async () => {
      const r = await httpRequest(`${edgeUrl()}/`, { host: 'during.example.test' });
      return r.status === 200 && r.json<EchoReply>().host === 'during.example.test';
    }, { timeoutMs: 20_000 });
    const { requests, failures } = await prober.stop();
    assert.equal(failures, 0, `${failures} of ${requests} probes failed`);
    assert.ok(requests > 100);
  });
});
