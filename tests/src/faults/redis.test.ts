import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { httpRequest, startFederation, startProber, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault rows F13, F16 and F17 of the matrix: Redis loses its data, goes back to an older fence, or
// the hub restarts with it empty. The fence on the edges never goes back, a leader keeps writing,
// drains survive, and the routes are served throughout.

const TOKEN = 'faults-redis-token-0123456789';
const LEASE_MS = 1000;

describe('faults: Redis', { timeout: 180_000 }, () => {
  let fed: Federation;
  let redis: Redis;
  let standby: Awaited<ReturnType<Federation['startStandbyHub']>>;
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  const fenceOnEdge = async (): Promise<number> => {
    const c = fed.edges[0]?.dp.client;
    const fe = await c?.unwrap('fe', c.api.GET('/services/haproxy/configuration/frontends/{name}', { params: { path: { name: 'ingressfed_http' } } }));
    return Number(/fence=(\d+)/.exec(fe?.data.description ?? '')?.[1] ?? 0);
  };
  const api = async <T>(path: string): Promise<T> => (await httpRequest(`${fed.apiUrl}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<T>();
  const leader = (): { hub: Federation['hub'] } | undefined => [fed, standby].find((x) => x.hub.isLeader);
  /** A new Ingress (with a Service of its own, so a transaction: the edge gets the leader's fence) is served. */
  let nextAddress = 10;
  const newRouteServed = async (name: string): Promise<void> => {
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[service(name), endpointSlice(name, [{ address: `127.0.160.${nextAddress++}` }]),
      ingress(name, [{ host: `${name}.example.test`, paths: [{ path: '/', service: name }] }], { annotations: { 'ingressfed.io/health-check-path': '/' } })].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor(`${name} served`, async () => {
      const r = await httpRequest(`${edgeUrl()}/`, { host: `${name}.example.test` });
      return r.status === 200 && r.json<EchoReply>().service === name;
    }, { timeoutMs: 20_000 });
  };
  /** Only alpha answers web.example.test while beta is drained. */
  const onlyAlpha = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) assert.equal((await httpRequest(`${edgeUrl()}/`, { host: 'web.example.test' })).json<EchoReply>().cluster, 'alpha');
  };

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-a' }], redis: true, hub: { leaseTtlMs: LEASE_MS },
      api: { tokens: [{ name: 'ops', token: TOKEN, role: 'admin' }] },
    });
    standby = await fed.startStandbyHub();
    redis = new Redis(fed.redis?.url as string, { maxRetriesPerRequest: 1 });
    for (const [c, addr] of [['alpha', '127.0.160.1'], ['beta', '127.0.160.2']] as const) {
      await fed.kubectl(c, ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: addr }]),
        ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }])].join('\n---\n')}\n`);
    }
    await fed.echo.settled();
    await waitFor('both clusters serve web', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) seen.add(String((await httpRequest(`${edgeUrl()}/`, { host: 'web.example.test' })).json<EchoReply>().cluster));
      return seen.size === 2;
    }, { timeoutMs: 20_000 });
    const drained = await httpRequest(`${fed.apiUrl}/api/v1/drains/cluster/beta`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(drained.status, 200);
    await waitFor('beta drained', async () => (await api<{ items: Array<{ complete: boolean }> }>('/api/v1/drains')).items[0]?.complete === true, { timeoutMs: 20_000 });
    // Leadership changed hands a few times: the edge carries a fence above 1.
    await redis.incrby('ingressfed:fence', 5);
    await redis.del('ingressfed:leader');
    await waitFor('a leader with a fence above 5', async () => (leader()?.hub.leaseState().fence ?? 0) > 5, { timeoutMs: 10_000 });
    await newRouteServed('first');
    assert.ok(await fenceOnEdge() > 5);
  });

  after(async () => {
    redis?.disconnect();
    await fed?.stop();
  });

  it('F16: Redis loses its data (FLUSHALL): the fence on the edge never goes back, a leader writes again, drains stay, traffic is served', async () => {
    const before = await fenceOnEdge();
    assert.ok(before >= 1);
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    await redis.flushall();
    await newRouteServed('after-flush');
    const { requests, failures } = await prober.stop();
    assert.equal(failures, 0, `${failures} of ${requests} probes failed`);
    assert.ok(await fenceOnEdge() > before, 'the edge carries a fence above the one before the flush');
    assert.ok(fed.logs.some((l) => /fence raised past it/.test(l)), 'the leader said it raised its fence');
    assert.ok(leader(), 'a hub leads');
    assert.deepEqual((await api<{ items: Array<{ name: string }> }>('/api/v1/drains')).items.map((d) => d.name), ['beta'], 'the drain survived');
    await onlyAlpha();
  });

  it('F17: a lagging replica is promoted (the fence counter goes back to 1, the lease is gone): one leader, fence above the edge\'s', async () => {
    const before = await fenceOnEdge();
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    await redis.multi().set('ingressfed:fence', '1').del('ingressfed:leader').exec();
    await newRouteServed('after-promotion');
    const { requests, failures } = await prober.stop();
    assert.equal(failures, 0, `${failures} of ${requests} probes failed`);
    assert.ok(await fenceOnEdge() > before);
    assert.equal([fed.hub, standby.hub].filter((h) => h.isLeader).length, 1, 'one leader');
    await onlyAlpha();
  });

  it('F13: a hub restarts with empty memory and an empty Redis: it rebuilds from NATS, removes no route, keeps the drain', async () => {
    await standby.stop();
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    const version = await fed.edges[0]?.dp.client.getVersion();
    await redis.flushall();
    await fed.restartHub();
    await waitFor('the new hub ready and leading', async () => fed.hub.ready && fed.hub.isLeader, { timeoutMs: 10_000 });
    await fed.hub.idle();
    await newRouteServed('after-restart');
    const { requests, failures } = await prober.stop();
    assert.equal(failures, 0, `${failures} of ${requests} probes failed`);
    assert.ok((await fed.edges[0]?.dp.client.getVersion() ?? 0) > (version ?? 0));
    assert.deepEqual((await api<{ items: Array<{ name: string }> }>('/api/v1/drains')).items.map((d) => d.name), ['beta']);
    await onlyAlpha();
  });
});
