import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '@ingressfed/hub';
import { httpRequest, startFederation, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Several hubs: one leader (Redis lease with a fencing token) writes; standbys serve the API.

const READ = 'standby-read-token-0123456789';
const LEASE_MS = 1000;

describe('hub replicas: a standby takes over when the leader dies, with one writer at a time', { timeout: 180_000 }, () => {
  let fed: Federation;
  let standby: Awaited<ReturnType<Federation['startStandbyHub']>>;
  const fenceOnEdge = async (): Promise<number | undefined> => {
    const c = fed.edges[0]?.dp.client;
    const fe = await c?.unwrap('fe', c.api.GET('/services/haproxy/configuration/frontends/{name}', { params: { path: { name: 'ingressfed_http' } } }));
    const m = /fence=(\d+)/.exec(fe?.data.description ?? '');
    return m ? Number(m[1]) : undefined;
  };

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }], redis: true, hub: { leaseTtlMs: LEASE_MS },
      api: { tokens: [{ name: 'reader', token: READ, role: 'read' }] },
    });
    standby = await fed.startStandbyHub();
    const r = await fed.clusters.get('alpha')?.kube.kubectl(['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: '127.0.180.1' }]),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }])].join('\n---\n')}\n`);
    assert.equal(r?.code, 0, r?.stderr);
    await waitFor('the route served', async () => (await httpRequest(`${fed.edges[0]?.url}/`, { host: 'web.example.test' })).status === 200, { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  it('has exactly one leader, and every replica serves the API', async () => {
    await waitFor('a leader', () => fed.hub.isLeader || standby.hub.isLeader);
    assert.equal(fed.hub.isLeader, true, 'the first hub leads');
    assert.equal(standby.hub.isLeader, false);
    await waitFor('the standby merged the model', () => (standby.hub.currentModel()?.routes.length ?? 0) === 1);
    for (const url of [fed.apiUrl, standby.apiUrl]) {
      const res = await fetch(`${url}/api/v1/routes`, { headers: { Authorization: `Bearer ${READ}` } });
      assert.equal(((await res.json()) as { items: Array<{ host: string }> }).items[0]?.host, 'web.example.test');
    }
    assert.equal(standby.hub.edgeStatus()[0]?.applies, 0, 'the standby never wrote to the edge');
    assert.ok((fed.hub.leaseState().fence ?? 0) >= 1);
  });

  it('takes over within twice the lease time after the leader dies, never with two leaders', async () => {
    const oldFence = fed.hub.leaseState().fence ?? 0;
    let both = 0;
    let sampling = true;
    const hubs: Hub[] = [fed.hub, standby.hub];
    const sampler = (async () => {
      while (sampling) {
        if (hubs.every((h) => h.isLeader)) both++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const killedAt = Date.now();
    await fed.killHub();
    const tookOver = await waitFor('the standby leading', () => (standby.hub.isLeader ? Date.now() : undefined), { timeoutMs: 3 * LEASE_MS, intervalMs: 5 });
    sampling = false;
    await sampler;
    console.log(`standby took over ${tookOver - killedAt} ms after the leader died (lease ${LEASE_MS} ms)`);
    assert.ok(tookOver - killedAt <= 2 * LEASE_MS, `took ${tookOver - killedAt} ms`);
    assert.equal(both, 0, 'never two leaders at once');
    const [a, b] = [fed.hub.leadership.at(-1), standby.hub.leadership[0]];
    assert.ok(a?.to !== undefined && b && b.from >= a.to, 'leadership periods do not overlap');
    assert.ok((standby.hub.leaseState().fence ?? 0) > oldFence, 'a new fencing token');

    // The new leader writes: a change in the cluster reaches the edge, stamped with its fence (a
    // Service with its own HTTP check needs a backend of its own: a transaction, which carries it).
    const r = await fed.clusters.get('alpha')?.kube.kubectl(['create', '-f', '-'], `---\n${[service('new'), endpointSlice('new', [{ address: '127.0.180.5' }]),
      ingress('new', [{ host: 'new.example.test', paths: [{ path: '/', service: 'new' }] }], { annotations: { 'ingressfed.io/health-check-path': '/' } })].join('\n---\n')}\n`);
    assert.equal(r?.code, 0, r?.stderr);
    await fed.echo.settled();
    await waitFor('the new route served', async () => {
      const x = await httpRequest(`${fed.edges[0]?.url}/`, { host: 'new.example.test' });
      return x.status === 200 && x.json<EchoReply>().service === 'new';
    }, { timeoutMs: 10_000 });
    assert.equal(await fenceOnEdge(), standby.hub.leaseState().fence);
  });
});
