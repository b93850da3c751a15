import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, KvWatchInclude, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { V1Ingress } from '@kubernetes/client-node';
import { STATE_BUCKET, heartbeatKey, isObjectKey, type Heartbeat } from '@ingressfed/schemas';
import {
  httpRequest, startFederation, startProber, startSpokeProcess, startTcpProxy, waitFor,
  type EchoReply, type Federation, type SpokeProcess, type TcpProxy,
} from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';
import { bucketEqualsCluster, contentsOf, type BucketEntry } from './records.js';

// Fault rows of the spoke (RELIABILITY.md §8.3):
//   F7  spoke crash and restart with an empty cache, before and after the stale TTL;
//   F9  watch 410 Gone and relist: only what is truly missing is deleted;
//   F11 network partition between a spoke and NATS (so the hub).
// Two clusters: alpha's spoke runs in the test process; beta's runs as its own process whose NATS
// connection goes through a loopback TCP proxy, which can cut it as a partition would.

/**
 * The hub calls a cluster stale after this long without a heartbeat (its clock). A spoke process
 * starts in about 1.5 s on an idle machine and up to about 4 s beside the probers and HAProxy; the
 * restart "before the stale TTL" must fit well within it.
 */
const STALE_MS = 8000;
/** Spokes' heartbeat period. */
const HEARTBEAT_MS = 200;
/** The hub re-evaluates cluster states every quarter of STALE_MS. */
const STALE_CHECK_MS = STALE_MS / 4;

describe('faults: spoke crash, watch expiry and partition', { timeout: 240_000 }, () => {
  let fed: Federation;
  let proxy: TcpProxy;
  let beta: SpokeProcess | undefined;
  let nc: NatsConnection;
  let kv: KV;
  const edgeUrl = (): string => `${fed.edges[0]?.url as string}/`;
  const stateOf = (cluster: string): string | undefined => fed.hub.clusters().find((c) => c.name === cluster)?.state;
  // Each cluster's Service has its own name, so that a host is served by one cluster's endpoints only
  // (Services of the same namespace and name are one backend across clusters).
  const svc = (cluster: string): string => `${cluster}-web`;
  const web = (cluster: string, name: string, host: string): string => ingress(name, [{ host, paths: [{ path: '/', service: svc(cluster) }] }]);

  /** Whether the edge serves `host` from `cluster`'s endpoints. */
  const served = async (host: string, cluster: string): Promise<boolean> => {
    const r = await httpRequest(edgeUrl(), { host });
    return r.status === 200 && r.json<EchoReply>().cluster === cluster && r.json<EchoReply>().host === host;
  };

  /** Waits until the bucket holds exactly the cluster's records; answers them. */
  const converged = (name: string): Promise<Map<string, BucketEntry>> => bucketEqualsCluster(fed, kv, name);

  /** Every change to a cluster's object keys in the bucket from now on. */
  const recordChanges = async (name: string): Promise<{ ops: Array<{ key: string; op: string }>; stop: () => void }> => {
    const ops: Array<{ key: string; op: string }> = [];
    const iter = await kv.watch({ key: `${name}.>`, include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const e of iter) if (isObjectKey(e.key)) ops.push({ key: e.key, op: e.operation });
    })();
    return { ops, stop: () => iter.stop() };
  };

  /** Every state the hub reports for a cluster, sampled until stopped. */
  const sampleStates = (name: string): { seen: () => Set<string>; stop: () => void } => {
    const seen = new Set<string>();
    const sample = (): void => {
      seen.add(stateOf(name) ?? 'unknown');
    };
    sample();
    const timer = setInterval(sample, 20);
    return { seen: () => seen, stop: () => clearInterval(timer) };
  };

  const heartbeatEpoch = async (name: string): Promise<string | undefined> => (await kv.get(heartbeatKey(name)))?.json<Heartbeat>().epoch;

  const commandLineOf = (pid: number): string | undefined =>
    existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : undefined;

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }],
      heartbeatIntervalMs: HEARTBEAT_MS,
      hub: { staleAfterMs: STALE_MS },
    });
    proxy = await startTcpProxy(fed.nats.url);
    // beta's spoke: a process whose NATS is the proxy, instead of the federation's in-process one.
    await fed.clusters.get('beta')?.spoke.stop();
    beta = await startSpokeProcess(fed, 'beta', { natsUrl: proxy.url, heartbeatIntervalMs: HEARTBEAT_MS });
    for (const [name, address, zone] of [['alpha', '127.0.213.1', 'zone-a'], ['beta', '127.0.214.1', 'zone-b']] as const) {
      const docs = [ingressClass(), service(svc(name)), endpointSlice(svc(name), [{ address, zone }]), web(name, 'web', `${name}.example.test`)];
      await fed.kubectl(name, ['create', '-f', '-'], `---\n${docs.join('\n---\n')}\n`);
    }
    nc = await fed.nats.connectAsHub();
    kv = await new Kvm(jetstream(nc)).open(STATE_BUCKET);
    await fed.echo.settled();
    await waitFor('both clusters served', async () => (await served('alpha.example.test', 'alpha')) && served('beta.example.test', 'beta'), { timeoutMs: 30_000 });
  });

  after(async () => {
    await beta?.stop();
    await proxy?.stop();
    await nc?.close();
    await fed?.stop();
  });

  it('F11: a partition between beta\'s spoke and NATS makes beta stale after the TTL; alpha is unaffected, beta\'s routes stay, and a change made during the partition goes live after the heal', async () => {
    await waitFor('beta live', () => stateOf('beta') === 'live', { timeoutMs: 10_000 });
    await converged('beta');
    assert.ok(proxy.connections > 0, 'beta\'s spoke reaches NATS through the proxy');
    const alphaProbe = startProber(edgeUrl(), 'alpha.example.test');
    const betaProbe = startProber(edgeUrl(), 'beta.example.test');
    const alphaStates = sampleStates('alpha');
    let probes: Array<{ requests: number; failures: number }> = [];
    try {
      const publishFailures = (): number => beta?.process.output().split('\n').filter((l) => l.includes('"msg":"publishing failed; retrying"')).length ?? 0;
      const failedBefore = publishFailures();
      proxy.cut(true);
      const cutAt = Date.now();
      await waitFor('beta marked stale', () => stateOf('beta') === 'stale', { timeoutMs: STALE_MS + STALE_CHECK_MS + 5000, intervalMs: 10 });
      const staleAfterMs = Date.now() - cutAt;
      assert.ok(staleAfterMs >= STALE_MS - 2 * HEARTBEAT_MS, `stale ${staleAfterMs} ms after the cut: not before the TTL of ${STALE_MS} ms`);
      assert.ok(staleAfterMs <= STALE_MS + STALE_CHECK_MS + 1000, `stale ${staleAfterMs} ms after the cut: the bound is ${STALE_MS + STALE_CHECK_MS + 1000} ms`);
      assert.equal(stateOf('alpha'), 'live');
      // A stale cluster keeps its routes and servers.
      const model = fed.hub.currentModel();
      assert.ok(model?.routes.some((r) => r.host === 'beta.example.test'), 'beta\'s route stays');
      assert.ok(model?.backends.some((b) => b.endpoints.some((e) => e.cluster === 'beta')), 'beta\'s servers stay');

      // A change in beta during the partition: the spoke sees it, and cannot publish it.
      await fed.kubectl('beta', ['create', '-f', '-'], web('beta', 'during', 'during.beta.example.test'));
      await waitFor('the spoke\'s write of it failed', () => publishFailures() > failedBefore, { timeoutMs: 20_000, intervalMs: 50 });
      assert.equal(await kv.get('beta.ingress.default.during'), null, 'nothing crosses the partition');
      assert.equal(stateOf('beta'), 'stale', 'still partitioned');

      proxy.cut(false);
      const healedAt = Date.now();
      await waitFor('beta live again', () => stateOf('beta') === 'live', { timeoutMs: 15_000, intervalMs: 10 });
      const liveAfterMs = Date.now() - healedAt;
      await waitFor('the Ingress created during the partition served', () => served('during.beta.example.test', 'beta'), { timeoutMs: 20_000 });
      console.log(`F11: stale ${staleAfterMs} ms after the cut; live ${liveAfterMs} ms and the change served ${Date.now() - healedAt} ms after the heal`);
      await converged('beta');
    } finally {
      alphaStates.stop();
      probes = [await alphaProbe.stop(), await betaProbe.stop()];
      proxy.cut(false);
    }
    const [alpha, betaServed] = probes as [{ requests: number; failures: number }, { requests: number; failures: number }];
    assert.equal(alpha.failures, 0, `alpha: ${alpha.failures} of ${alpha.requests} probes failed`);
    assert.equal(betaServed.failures, 0, `beta: ${betaServed.failures} of ${betaServed.requests} probes failed`);
    assert.ok(alpha.requests > 100 && betaServed.requests > 100);
    assert.deepEqual([...alphaStates.seen()], ['live'], 'alpha stayed live throughout');
  });

  it('F7: beta\'s spoke killed (SIGKILL) and restarted with an empty cache, before and after the stale TTL: no route removed, a new epoch, the bucket equal to the cluster, the change made while it was down live', async () => {
    assert.ok(beta);
    await fed.kubectl('beta', ['create', '-f', '-'], web('beta', 'old', 'old.beta.example.test'));
    await waitFor('old served', () => served('old.beta.example.test', 'beta'), { timeoutMs: 20_000 });
    const start = await converged('beta');
    const changes = await recordChanges('beta');
    const probe = startProber(edgeUrl(), 'beta.example.test');
    const states = sampleStates('beta');
    let probed = { requests: 0, failures: 0 };
    try {
      // 1. Killed and started again within the stale TTL.
      const first = beta;
      await first.kill();
      const killedAt = Date.now();
      beta = await startSpokeProcess(fed, 'beta', { natsUrl: proxy.url, heartbeatIntervalMs: HEARTBEAT_MS, passwordIn: 'file' });
      assert.notEqual(beta.epoch, first.epoch, 'a new epoch');
      await waitFor('the new process\'s heartbeat', async () => (await heartbeatEpoch('beta')) === beta?.epoch, { timeoutMs: 10_000, intervalMs: 10 });
      const restartMs = Date.now() - killedAt;
      assert.ok(restartMs < STALE_MS - HEARTBEAT_MS, `the restart took ${restartMs} ms: not within the stale TTL of ${STALE_MS} ms`);
      assert.deepEqual([...states.seen()], ['live'], 'beta never went stale');
      console.log(`F7: restarted within the TTL: the new process's heartbeat ${restartMs} ms after the kill`);
      const again = await converged('beta');
      assert.deepEqual(contentsOf(again), contentsOf(start));
      assert.equal(changes.ops.length, 0, `the restart rewrote and deleted nothing, as the cluster did not change: ${JSON.stringify(changes.ops)}`);

      // 2. Killed, a change made while it is down, started again after the stale TTL.
      const second = beta;
      await second.kill();
      await fed.kubectl('beta', ['delete', 'ingress', 'old']);
      await fed.kubectl('beta', ['create', '-f', '-'], web('beta', 'while-down', 'down.beta.example.test'));
      await waitFor('beta marked stale', () => stateOf('beta') === 'stale', { timeoutMs: STALE_MS + STALE_CHECK_MS + 5000, intervalMs: 10 });
      assert.ok(fed.hub.currentModel()?.routes.some((r) => r.host === 'beta.example.test'), 'beta\'s route stays while it is stale');
      beta = await startSpokeProcess(fed, 'beta', { natsUrl: proxy.url, heartbeatIntervalMs: HEARTBEAT_MS, passwordIn: 'env' });
      assert.ok(![first.epoch, second.epoch].includes(beta.epoch), 'a new epoch');
      await waitFor('beta live again', () => stateOf('beta') === 'live', { timeoutMs: 10_000, intervalMs: 10 });
      assert.equal(await heartbeatEpoch('beta'), beta.epoch);
      await converged('beta');
      await waitFor('the Ingress created while the spoke was down served', () => served('down.beta.example.test', 'beta'), { timeoutMs: 20_000 });
      await waitFor('the Ingress deleted while the spoke was down gone', () => !fed.hub.currentModel()?.routes.some((r) => r.host === 'old.beta.example.test'), { timeoutMs: 10_000 });
    } finally {
      states.stop();
      changes.stop();
      probed = await probe.stop();
    }
    assert.equal(probed.failures, 0, `${probed.failures} of ${probed.requests} probes of beta's route failed`);
    assert.ok(probed.requests > 100);
    // What the second restart removed is exactly what the cluster deleted meanwhile.
    assert.deepEqual(changes.ops.filter((o) => o.op !== 'PUT'), [{ key: 'beta.ingress.default.old', op: 'DEL' }]);
    assert.deepEqual([...new Set(changes.ops.filter((o) => o.op === 'PUT').map((o) => o.key))], ['beta.ingress.default.while-down']);
    // The password was never on a command line.
    const password = fed.nats.spoke('beta').password;
    assert.ok(!beta.args.join(' ').includes(password));
    const cmdline = commandLineOf(beta.pid);
    if (cmdline !== undefined) assert.ok(!cmdline.includes(password), 'not in /proc/<pid>/cmdline');
  });

  it('F9: an Ingress deleted while alpha\'s watches are expired: after the relist exactly its key is removed, and every other key keeps its revision', async () => {
    const api = fed.standIn('alpha').api;
    const spoke = fed.clusters.get('alpha')?.spoke;
    assert.ok(api && spoke);
    for (const n of ['f9-a', 'f9-b', 'f9-c']) await fed.kubectl('alpha', ['create', '-f', '-'], web('alpha', n, `${n}.alpha.example.test`));
    // Settled: every Ingress carries the edges' addresses (the status write changes its resourceVersion) and the bucket equals the cluster.
    await waitFor('every Ingress\'s status written', async () => {
      const ings = (JSON.parse(await fed.kubectl('alpha', ['get', 'ingresses', '-o', 'json'])) as { items: V1Ingress[] }).items;
      return ings.length === 4 && ings.every((i) => (i.status?.loadBalancer?.ingress?.length ?? 0) > 0);
    }, { timeoutMs: 20_000 });
    await converged('alpha');
    await spoke.idle();
    const beforeRelist = await converged('alpha');
    const gone = 'alpha.ingress.default.f9-b';
    assert.ok(beforeRelist.has(gone));
    const watching = api.openWatches;
    assert.equal(watching, 4, 'one watch per informer');
    const cached = spoke.cacheSizes().ingresses;
    const changes = await recordChanges('alpha');
    try {
      // The watches go silent, the Ingress is deleted, and the history is compacted past it: the
      // informers' resourceVersions expire, and they learn of the deletion only by listing again.
      api.stallWatches(true);
      await fed.kubectl('alpha', ['delete', 'ingress', 'f9-b']);
      const deletedAt = api.store.resourceVersion;
      api.expireWatches();
      assert.ok(api.store.oldestResumable >= deletedAt, 'the history is compacted past the deletion: a watch resuming from before it gets 410 Gone');
      assert.equal(spoke.cacheSizes().ingresses, cached, 'the spoke has not seen the deletion');
      assert.equal((await kv.get(gone))?.operation, 'PUT', 'still published');
      api.stallWatches(false);
      await waitFor(`${gone} removed from the bucket`, async () => (await kv.get(gone))?.operation === 'DEL', { timeoutMs: 10_000 });
      await waitFor('every informer watching again', () => api.openWatches === watching, { timeoutMs: 10_000 });
      await spoke.idle();
      const afterRelist = await converged('alpha');
      assert.deepEqual([...afterRelist.keys()].sort(), [...beforeRelist.keys()].filter((k) => k !== gone).sort(), 'exactly that key is removed');
      for (const [key, e] of afterRelist) assert.equal(e.revision, beforeRelist.get(key)?.revision, `${key} keeps its revision`);
    } finally {
      changes.stop();
    }
    assert.deepEqual(changes.ops, [{ key: gone, op: 'DEL' }], 'no other key written or deleted');
    assert.equal(spoke.cacheSizes().ingresses, (cached ?? 0) - 1);
    await waitFor('f9-b no longer served', async () => (await httpRequest(edgeUrl(), { host: 'f9-b.alpha.example.test' })).status === 404, { timeoutMs: 10_000 });
    assert.ok(await served('f9-a.alpha.example.test', 'alpha'));
    assert.ok(await served('f9-c.alpha.example.test', 'alpha'));
    assert.ok(await served('alpha.example.test', 'alpha'));
  });
});
