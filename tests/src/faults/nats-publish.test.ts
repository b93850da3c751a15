import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { STATE_BUCKET } from '@ingressfed/schemas';
import {
  httpRequest, startFederation, startProber, startSpokeProcess, startTcpProxy, waitFor,
  type EchoReply, type Federation, type SpokeProcess, type TcpProxy,
} from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';
import { bucketEqualsCluster } from './records.js';

// Fault rows of publishing (RELIABILITY.md §8.3):
//   F3  NATS killed (SIGKILL) and restarted while a spoke publishes a burst of changes;
//   F4  a publish stored by JetStream whose acknowledgement is lost: the spoke learns it was stored
//       from its echo, or writes it again.
// A spoke writes its records with JetStream KV puts, each acknowledged by the server; a put that
// fails (no answer in time, connection lost) makes the spoke compare everything again and retry.
// Nothing relies on a core publish: both tests end with the bucket equal to the cluster. A KV put is
// idempotent per key (the last value wins, history 1): a retry stores the same record again, and the
// hub applies it once.
// beta's spoke runs as its own process whose NATS connection goes through a loopback TCP proxy.

const HEARTBEAT_MS = 200;

describe('faults: publishing while NATS fails', { timeout: 240_000 }, () => {
  let fed: Federation;
  let proxy: TcpProxy;
  let beta: SpokeProcess | undefined;
  let nc: NatsConnection | undefined;
  const edgeUrl = (): string => `${fed.edges[0]?.url as string}/`;
  const svc = (cluster: string): string => `${cluster}-web`;
  const web = (cluster: string, name: string, host: string): string => ingress(name, [{ host, paths: [{ path: '/', service: svc(cluster) }] }]);

  /** Whether the edge serves `host` from `cluster`'s endpoints. */
  const served = async (host: string, cluster: string): Promise<boolean> => {
    const r = await httpRequest(edgeUrl(), { host });
    return r.status === 200 && r.json<EchoReply>().cluster === cluster && r.json<EchoReply>().host === host;
  };

  /** beta's spoke's log lines with this message. */
  const logged = (msg: string): string[] => beta?.process.output().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)) ?? [];
  const publishFailures = (): string[] => logged('publishing failed; retrying');

  /** The state bucket, read over a connection of the test's own (opened again after NATS restarts). */
  const bucket = async (): Promise<KV> => {
    if (!nc || nc.isClosed()) nc = await fed.nats.connectAsHub();
    return new Kvm(jetstream(nc)).open(STATE_BUCKET);
  };

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }], heartbeatIntervalMs: HEARTBEAT_MS });
    proxy = await startTcpProxy(fed.nats.url);
    await fed.clusters.get('beta')?.spoke.stop();
    beta = await startSpokeProcess(fed, 'beta', { natsUrl: proxy.url, heartbeatIntervalMs: HEARTBEAT_MS });
    for (const [name, address, zone] of [['alpha', '127.0.215.1', 'zone-a'], ['beta', '127.0.216.1', 'zone-b']] as const) {
      const docs = [ingressClass(), service(svc(name)), endpointSlice(svc(name), [{ address, zone }]), web(name, 'web', `${name}.example.test`)];
      await fed.kubectl(name, ['create', '-f', '-'], `---\n${docs.join('\n---\n')}\n`);
    }
    await fed.echo.settled();
    await waitFor('both clusters served', async () => (await served('alpha.example.test', 'alpha')) && served('beta.example.test', 'beta'), { timeoutMs: 30_000 });
  });

  after(async () => {
    await beta?.stop();
    await proxy?.stop();
    await nc?.close();
    await fed?.stop();
  });

  it('F3: NATS killed and restarted while beta\'s spoke publishes a burst: every change is stored once NATS is back and goes live; traffic is served throughout', async () => {
    const probes = [startProber(edgeUrl(), 'alpha.example.test'), startProber(edgeUrl(), 'beta.example.test')];
    const names = Array.from({ length: 30 }, (_, i) => `burst-${i + 1}`);
    const create = (name: string): Promise<string> => fed.kubectl('beta', ['create', '-f', '-'], web('beta', name, `${name}.beta.example.test`));
    let results: Array<{ requests: number; failures: number }> = [];
    try {
      for (const n of names.slice(0, 10)) await create(n);
      // Killed while the spoke writes the first ten: some puts are in flight, the next ones have no server.
      const failedBefore = publishFailures().length;
      await fed.nats.kill();
      const killedAt = Date.now();
      for (const n of names.slice(10, 20)) await create(n);
      await waitFor('the spoke\'s puts failing', () => publishFailures().length > failedBefore, { timeoutMs: 20_000, intervalMs: 50 });
      const downMs = Date.now() - killedAt;
      await fed.nats.start();
      for (const n of names.slice(20)) await create(n);

      await bucketEqualsCluster(fed, await bucket(), 'beta', 30_000);
      for (const n of names) await waitFor(`${n} served`, () => served(`${n}.beta.example.test`, 'beta'), { timeoutMs: 20_000 });
      const hosts = new Set(fed.hub.currentModel()?.routes.map((r) => r.host));
      assert.deepEqual(names.filter((n) => !hosts.has(`${n}.beta.example.test`)), [], 'every change in the hub\'s model');
      results = await Promise.all(probes.map((p) => p.stop()));
      console.log(`F3: NATS down ${downMs} ms with 10 of 30 changes made during the outage; ${publishFailures().length - failedBefore} failed publish passes retried; ` +
        `all 30 stored and served; probes ${results.map((r) => `${r.failures}/${r.requests}`).join(', ')} failed`);
    } finally {
      if (results.length === 0) await Promise.all(probes.map((p) => p.stop()));
    }
    for (const r of results) assert.equal(r.failures, 0, `${r.failures} of ${r.requests} probes failed`);
  });

  it('F4: a put stored by JetStream whose acknowledgement is lost is retried; the bucket keeps one message for the key, the hub applies it once; the spoke takes the echo of its own put for a confirmation', async () => {
    const kv = await bucket();
    const name = 'acked';
    const host = `${name}.beta.example.test`;
    const key = `beta.ingress.default.${name}`;
    const subject = `$KV.${STATE_BUCKET}.${key}`;
    const probes = [startProber(edgeUrl(), 'alpha.example.test'), startProber(edgeUrl(), 'beta.example.test')];
    let results: Array<{ requests: number; failures: number }> = [];
    try {
      const failedBefore = publishFailures().length;
      // The server's answers to beta's spoke are lost from now on; what it sends still arrives.
      proxy.mute(true);
      await fed.kubectl('beta', ['create', '-f', '-'], web('beta', name, host));
      const stored = await waitFor('the put stored by the server', async () => (await kv.get(key))?.revision, { timeoutMs: 15_000, intervalMs: 20 });
      await waitFor(`${host} served`, () => served(host, 'beta'), { timeoutMs: 20_000 });
      await fed.hub.idle();
      const transactions = fed.hub.edgeStatus()[0]?.transactions;
      const failure = await waitFor('the spoke\'s put failing for want of an acknowledgement', () => publishFailures()[failedBefore], { timeoutMs: 20_000, intervalMs: 50 });
      assert.match(failure, /timeout|TIMEOUT/i, 'the put failed by timing out');
      // Meanwhile its heartbeats (stored, unacknowledged) carry a digest without the key: the hub sees the difference.
      await waitFor('the hub seeing beta\'s keys differ from its digest', () => fed.hub.intake.inSync('beta') === false, { timeoutMs: 20_000, intervalMs: 50 });
      // The answers flow again (the connection that lost bytes is ended; the spoke connects again).
      proxy.mute(false);
      // The spoke learns that its put was stored (its echo on the spoke's watch, or the bucket read
      // again) or stores it again; either way what it has published matches the bucket.
      await waitFor('beta\'s heartbeat digest matching its keys in the bucket', () => fed.hub.intake.inSync('beta') === true, { timeoutMs: 20_000, intervalMs: 50 });
      const again = await kv.get(key);
      assert.ok(again);
      assert.deepEqual(logged('a key of this cluster changed in the state bucket without this spoke; reading the bucket again to restore it'), [],
        'the echo of its own unacknowledged put is not taken for a change by someone else');
      const info = await (await jetstreamManager(nc as NatsConnection)).streams.info(`KV_${STATE_BUCKET}`, { subjects_filter: subject });
      assert.deepEqual(info.state.subjects, { [subject]: 1 }, 'one message stored for the key');
      await bucketEqualsCluster(fed, kv, 'beta');
      await fed.hub.idle();
      assert.equal(fed.hub.edgeStatus()[0]?.transactions, transactions, 'the repeated record changed nothing on the edge');
      assert.equal(fed.hub.currentModel()?.routes.filter((r) => r.host === host).length, 1, 'one route for the host');
      assert.ok(await served(host, 'beta'));
      results = await Promise.all(probes.map((p) => p.stop()));
      console.log(`F4: the put stored at revision ${stored} and its acknowledgement lost; ${publishFailures().length - failedBefore} failed publish passes; ` +
        `${again.revision === stored ? 'not written again (its echo confirmed it)' : `written again, revision ${again.revision}`}; one message for the key; edge transactions unchanged (${transactions}); probes ${results.map((r) => `${r.failures}/${r.requests}`).join(', ')} failed`);
    } finally {
      proxy.mute(false);
      if (results.length === 0) await Promise.all(probes.map((p) => p.stop()));
    }
    for (const r of results) assert.equal(r.failures, 0, `${r.failures} of ${r.requests} probes failed`);
  });
});
