import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, startHubProcess, startTcpProxy, waitFor, type EchoReply, type Federation, type HubProcess, type TcpProxy } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F14 of the matrix: the leader is paused (SIGSTOP) in the middle of writing a change,
// past its lease; a standby takes over and writes newer changes; when the old leader wakes up it
// writes nothing more, structural or runtime.

const TOKEN = 'split-brain-token-0123456789';
const LEASE_MS = 1000;
const addresses = (third: number, n: number): string[] => Array.from({ length: n }, (_, i) => `127.0.${third}.${i + 1}`);

describe('faults: two hubs (split brain)', { timeout: 180_000 }, () => {
  let fed: Federation;
  let old: HubProcess;
  /** Between the old leader and the edge's Data Plane API: what it sends is seen, and can be held. */
  let proxy: TcpProxy;
  const edge = (): NonNullable<Federation['edges'][number]> => fed.edges[0] as NonNullable<Federation['edges'][number]>;
  /** Every server slot on the edge: address, port and admin state, per backend. */
  const slots = async (): Promise<string> => {
    const c = edge().dp.client;
    const backends = (await c.unwrap('backends', c.api.GET('/services/haproxy/configuration/backends'))).data.map((b) => b.name ?? '').sort();
    const out: string[] = [];
    for (const b of backends) for (const s of await c.listRuntimeServers(b)) out.push(`${b}/${s.name} ${s.address}:${s.port} ${s.admin_state}`);
    return out.sort().join('\n');
  };
  const ready = async (): Promise<Set<string>> => new Set((await slots()).split('\n').filter((l) => l.endsWith(' ready')).map((l) => l.split(' ')[1]?.split(':')[0] ?? ''));
  const setEndpoints = (addrs: string[]): Promise<string> => fed.kubectl('alpha', ['replace', '-f', '-'], endpointSlice('web', addrs.map((address) => ({ address }))));

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }], redis: true, hub: { leaseTtlMs: LEASE_MS } });
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', addresses(170, 2).map((address) => ({ address }))),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor('web served', async () => (await httpRequest(`${edge().url}/`, { host: 'web.example.test' })).status === 200, { timeoutMs: 20_000 });
    // The leader becomes a hub process of its own, which can be paused.
    await fed.killHub();
    proxy = await startTcpProxy(edge().dp.url);
    old = await startHubProcess(fed, { leaseTtlMs: LEASE_MS, token: TOKEN, edgeUrls: [proxy.url] });
    await old.process.waitForLine(/leader lease acquired/, 10_000);
  });

  after(async () => {
    await old?.stop();
    await proxy?.stop();
    await fed?.stop();
  });

  it('F14: a leader paused mid-sync past its lease sends no write once it wakes; the new leader\'s changes stay', async () => {
    const standby = await fed.startStandbyHub();
    try {
      // The old leader starts a change (two slots move: six runtime calls in order); its first call
      // is held on the way, and the leader is paused with the rest still to send.
      proxy.hold(true);
      const sent = proxy.writes.length;
      await setEndpoints(addresses(171, 2));
      await waitFor('the old leader\'s first write', async () => proxy.writes.length > sent, { timeoutMs: 15_000, intervalMs: 2 });
      old.pause();
      proxy.hold(false);
      await waitFor('the standby leading', async () => standby.hub.isLeader, { timeoutMs: 5 * LEASE_MS });
      // The new leader writes a newer change, and it goes live.
      const second = addresses(172, 2);
      await setEndpoints(second);
      await fed.echo.settled();
      await waitFor('the newer endpoints live', async () => {
        const live = await ready();
        return second.every((a) => live.has(a));
      }, { timeoutMs: 20_000 });
      await standby.hub.idle();
      const before = await slots();
      const sentBeforeWaking = proxy.writes.length;
      old.resume();
      await old.process.waitForLine(/leader lease lost/, 10_000);
      await standby.hub.idle();
      assert.deepEqual(proxy.writes.slice(sentBeforeWaking), [], 'the old leader sent no write after waking');
      assert.equal(await slots(), before, 'no slot changed');
      // It did go on with its change: every call was refused before it was sent.
      await old.process.waitForLine(/not sent: the leader lease is not held/, 10_000);
      const r = await httpRequest(`${edge().url}/`, { host: 'web.example.test' });
      assert.equal(r.status, 200);
      assert.ok(second.includes(r.json<EchoReply>().endpoint.split(':')[0] ?? ''), `served by ${r.json<EchoReply>().endpoint}`);
      assert.equal(standby.hub.isLeader, true, 'one leader: the new one');
    } finally {
      await standby.stop();
    }
  });
});
