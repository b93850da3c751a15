import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { STATE_BUCKET, heartbeatKey, type Heartbeat } from '@ingressfed/schemas';
import {
  httpRequest, startFederation, startProber, startSpokeProcess, waitFor,
  type EchoReply, type Federation, type SpokeProcess,
} from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F28 of the matrix: a spoke's clock off the hub's by ten minutes, either way. beta's
// spoke runs as its own process under libfaketime (its wall clock skewed, its timers not). The
// hub orders records by the source's revision, never by a spoke's time, and measures every age and
// TTL on its own clock: beta is live while it sends heartbeats and stale a TTL after it stops, its
// changes apply in order, and the propagation times the hub records are on its own clock.

const HEARTBEAT_MS = 200;
const STALE_MS = 4000;
/** The hub re-evaluates cluster states every quarter of STALE_MS. */
const STALE_CHECK_MS = STALE_MS / 4;
const TEN_MINUTES = 600_000;

describe('faults: clock skew between a spoke and the hub', { timeout: 180_000 }, () => {
  let fed: Federation;
  let beta: SpokeProcess | undefined;
  let nc: NatsConnection;
  let kv: KV;
  const edgeUrl = (): string => `${fed.edges[0]?.url as string}/`;
  const svc = (cluster: string): string => `${cluster}-web`;
  const stateOf = (cluster: string): string | undefined => fed.hub.clusters().find((c) => c.name === cluster)?.state;

  const served = async (host: string, path = '/'): Promise<boolean> => {
    const r = await httpRequest(`${fed.edges[0]?.url as string}${path}`, { host });
    return r.status === 200 && r.json<EchoReply>().cluster === 'beta' && r.json<EchoReply>().host === host;
  };

  /** The propagation histogram's count and sum (s) for the edge. */
  const propagation = async (): Promise<{ count: number; sum: number }> => {
    const values = (await fed.hub.metrics.propagation.get()).values;
    const of = (name: string): number => values.filter((v) => v.metricName === name).reduce((a, v) => a + v.value, 0);
    return { count: of('ingressfed_propagation_seconds_count'), sum: of('ingressfed_propagation_seconds_sum') };
  };

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }],
      heartbeatIntervalMs: HEARTBEAT_MS, hub: { staleAfterMs: STALE_MS },
    });
    await fed.clusters.get('beta')?.spoke.stop();
    for (const [name, address, zone] of [['alpha', '127.0.217.1', 'zone-a'], ['beta', '127.0.218.1', 'zone-b']] as const) {
      const docs = [ingressClass(), service(svc(name)), endpointSlice(svc(name), [{ address, zone }]),
        ingress('web', [{ host: `${name}.example.test`, paths: [{ path: '/', service: svc(name) }] }])];
      await fed.kubectl(name, ['create', '-f', '-'], `---\n${docs.join('\n---\n')}\n`);
    }
    nc = await fed.nats.connectAsHub();
    kv = await new Kvm(jetstream(nc)).open(STATE_BUCKET);
    await fed.echo.settled();
  });

  after(async () => {
    await beta?.stop();
    await nc?.close();
    await fed?.stop();
  });

  for (const [offset, skewMs] of [['+10m', TEN_MINUTES], ['-10m', -TEN_MINUTES]] as const) {
    it(`F28: beta's spoke with its clock ${offset}: live while it beats and stale a TTL after it stops (hub time); its changes apply in revision order; propagation measured on the hub's clock; traffic served`, async () => {
      beta = await startSpokeProcess(fed, 'beta', { heartbeatIntervalMs: HEARTBEAT_MS, clockOffset: offset });
      const epoch = beta.epoch;
      const hb = await waitFor('its heartbeat', async () => {
        const h = (await kv.get(heartbeatKey('beta')))?.json<Heartbeat>();
        return h?.epoch === epoch && h;
      }, { timeoutMs: 10_000, intervalMs: 20 });
      assert.ok(Math.abs(hb.time - Date.now() - skewMs) < 5000, `the spoke's clock is ${offset} (heartbeat time ${new Date(hb.time).toISOString()})`);
      await waitFor('beta live', () => stateOf('beta') === 'live', { timeoutMs: 10_000 });
      await waitFor('beta served', () => served('beta.example.test'), { timeoutMs: 20_000 });
      const probes = [startProber(edgeUrl(), 'alpha.example.test'), startProber(edgeUrl(), 'beta.example.test')];
      const states = new Set<string>();
      const sampler = setInterval(() => states.add(stateOf('beta') ?? 'unknown'), 20);
      let results: Array<{ requests: number; failures: number }> = [];
      try {
        // The hub's view of the clock, and ages on its own clock.
        await waitFor('the offset measured', () => fed.hub.clusters().find((c) => c.name === 'beta')?.clockOffsetMs !== undefined, { timeoutMs: 5000 });
        const view = fed.hub.clusters().find((c) => c.name === 'beta');
        assert.ok(view && Math.abs((view.clockOffsetMs as number) - skewMs) < 5000, `clockOffsetMs ${view?.clockOffsetMs} shows the skew`);
        assert.ok((view?.heartbeatAgeMs ?? Infinity) < 2000, `heartbeat age ${view?.heartbeatAgeMs} ms, on the hub's clock`);

        // Changes in order: created, then its host and path replaced twice; the last one stays.
        const name = `skew${offset.startsWith('+') ? 'ahead' : 'behind'}`;
        const before = await propagation();
        const version = (n: number): string => ingress(name, [{ host: `${name}-${n}.example.test`, paths: [{ path: `/v${n}`, service: svc('beta') }] }]);
        await fed.kubectl('beta', ['create', '-f', '-'], version(1));
        await waitFor('version 1 served', () => served(`${name}-1.example.test`, '/v1'), { timeoutMs: 20_000 });
        await fed.kubectl('beta', ['replace', '-f', '-'], version(2));
        await fed.kubectl('beta', ['replace', '-f', '-'], version(3));
        await waitFor('version 3 served', () => served(`${name}-3.example.test`, '/v3'), { timeoutMs: 20_000 });
        await fed.hub.idle();
        const hosts = fed.hub.currentModel()?.routes.map((r) => r.host).filter((h) => h.startsWith(`${name}-`));
        assert.deepEqual(hosts, [`${name}-3.example.test`], 'only the last version is routed');
        assert.equal(await served(`${name}-1.example.test`, '/v1'), false, 'version 1 is gone');
        const after = await propagation();
        const n = after.count - before.count;
        const meanS = (after.sum - before.sum) / n;
        assert.ok(n > 0, 'the changes were timed');
        assert.ok(meanS < 10, `mean propagation ${meanS.toFixed(3)} s over ${n} changes: on the hub's clock, not ten minutes off`);
        assert.deepEqual([...states], ['live'], 'beta stayed live');

        // Stopped: stale a TTL later, on the hub's clock.
        await beta.kill();
        beta = undefined;
        const killedAt = Date.now();
        await waitFor('beta stale', () => stateOf('beta') === 'stale', { timeoutMs: STALE_MS + STALE_CHECK_MS + 5000, intervalMs: 10 });
        const staleAfterMs = Date.now() - killedAt;
        assert.ok(staleAfterMs >= STALE_MS - 2 * HEARTBEAT_MS, `stale ${staleAfterMs} ms after the spoke stopped: not before the TTL of ${STALE_MS} ms`);
        assert.ok(staleAfterMs <= STALE_MS + STALE_CHECK_MS + 1000, `stale ${staleAfterMs} ms after the spoke stopped: the bound is ${STALE_MS + STALE_CHECK_MS + 1000} ms`);
        assert.ok(await served(`${name}-3.example.test`, '/v3'), 'a stale cluster keeps its routes');
        results = await Promise.all(probes.map((p) => p.stop()));
        console.log(`F28 ${offset}: clock offset measured ${view?.clockOffsetMs} ms; ${n} changes timed, mean propagation ${(meanS * 1000).toFixed(0)} ms; ` +
          `stale ${staleAfterMs} ms after the spoke stopped (TTL ${STALE_MS} ms); probes ${results.map((r) => `${r.failures}/${r.requests}`).join(', ')} failed`);
      } finally {
        clearInterval(sampler);
        if (results.length === 0) await Promise.all(probes.map((p) => p.stop()));
      }
      for (const r of results) assert.equal(r.failures, 0, `${r.failures} of ${r.requests} probes failed`);
    });
  }
});
