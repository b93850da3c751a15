import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { HELD_BUCKET, STATE_BUCKET, STATUS_BUCKET, heartbeatKey, type Heartbeat } from '@ingressfed/schemas';
import type { Spoke } from '@ingressfed/spoke';
import { httpRequest, startFederation, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// An attacker who holds one cluster's NATS credentials (alpha's) tries to change, block or read
// another cluster's routes (beta's). NATS refuses each attempt and logs it for the operator; beta's
// routes keep being served and the edge's configuration does not move.

const TOKEN = 'trust-test-token-0123456789abcdef';
interface KubeEvent { involvedObject: { name: string }; reason: string; message: string; type: string }

describe('trust: one cluster cannot change, block or read another cluster\'s routes on NATS', { timeout: 120_000 }, () => {
  let fed: Federation;
  let edgeUrl: string;
  let attacker: NatsConnection;
  const served = async (host: string): Promise<string | undefined> => {
    const r = await httpRequest(`${edgeUrl}/`, { host });
    return r.status === 200 ? String(r.json<EchoReply>().cluster) : undefined;
  };
  /** The edge's configuration version and what beta's host answers, to compare after each attempt. */
  const untouched = async (version: number): Promise<void> => {
    await fed.hub.idle();
    assert.equal(await fed.edges[0]?.dp.client.getVersion(), version, 'the edge configuration did not change');
    assert.equal(await served('beta.example.com'), 'beta', "beta's route is still served by beta");
    assert.equal(fed.hub.intake.refused.size, 0, 'nothing forged reached the hub');
  };
  /** nats-server logged the refusal for the operator, naming the identity and the subject. */
  const logged = (kind: 'Publish' | 'Subscription', subject: string): Promise<string> =>
    fed.nats.process.waitForLine(new RegExp(`${kind} Violation.*"spoke-alpha".*${subject.replace(/[$.>*]/g, (c) => `\\${c}`)}`), 10_000);

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }], api: { tokens: [{ name: 'ops', token: TOKEN, role: 'read' }] },
      // gamma has NATS credentials but is not one of the hub's clusters.
      hub: { clusters: ['alpha', 'beta'], hostPolicy: [{ hosts: ['shop.example.com'], clusters: ['beta'] }] } });
    edgeUrl = fed.edges[0]?.url as string;
    for (const [c, addr] of [['alpha', '127.0.30.1'], ['beta', '127.0.40.1']] as const) {
      await fed.kubectl(c, ['create', '-f', '-'], ingressClass());
      // A Service of its own in each cluster (one name in both would be one backend spanning both).
      await fed.kubectl(c, ['create', '-f', '-'], service(`${c}-web`));
      await fed.kubectl(c, ['create', '-f', '-'], endpointSlice(`${c}-web`, [{ address: addr }]));
      await fed.kubectl(c, ['create', '-f', '-'], ingress('web', [{ host: `${c}.example.com`, paths: [{ path: '/', service: `${c}-web` }] }]));
    }
    await waitFor('both hosts served', async () => (await served('alpha.example.com')) === 'alpha' && (await served('beta.example.com')) === 'beta', { timeoutMs: 20_000 });
    attacker = await fed.nats.connectAsSpoke('alpha');
  });

  after(async () => {
    await attacker?.close().catch(() => undefined);
    await fed?.stop();
  });

  it('refuses connections without credentials, and with a wrong password', async () => {
    await assert.rejects(connect({ servers: fed.nats.url, reconnect: false }), /Authorization Violation/i);
    await assert.rejects(connect({ servers: fed.nats.url, user: 'spoke-beta', pass: 'guessed', reconnect: false }), /Authorization Violation/i);
  });

  it("F1: refuses alpha's identity writing or deleting beta's keys; beta's routes are untouched", async () => {
    await fed.hub.idle();
    const version = await fed.edges[0]?.dp.client.getVersion() as number;
    const kv = await new Kvm(jetstream(attacker)).open(STATE_BUCKET, { allow_direct: true });
    const forged = { cluster: 'beta', kind: 'ingress', name: 'web', namespace: 'default' };
    await assert.rejects(kv.put('beta.ingress.default.takeover', JSON.stringify(forged)), /permissions violation/i);
    await logged('Publish', '$KV.ingressfed_state.beta.ingress.default.takeover');
    await assert.rejects(kv.delete('beta.endpoints.default.beta-web'), /permissions violation/i);
    await logged('Publish', '$KV.ingressfed_state.beta.endpoints.default.beta-web');
    await untouched(version);
    // Its own keys it may write.
    await kv.put('alpha.probe', 'x');
    await kv.delete('alpha.probe');
  });

  it("refuses alpha's identity reading beta's records, by key, by watch, or from anyone's inbox", async () => {
    const kv = await new Kvm(jetstream(attacker)).open(STATE_BUCKET, { allow_direct: true });
    await assert.rejects(kv.get('beta.ingress.default.web'), /permissions violation/i);
    await assert.rejects((async () => {
      const w = await kv.watch({ key: 'beta.>' });
      for await (const e of w) return e;
      return undefined;
    })(), /permissions violation/i);
    // Reading beta's status, or every record as the hub's watch delivers them.
    const status = await new Kvm(jetstream(attacker)).open(STATUS_BUCKET, { allow_direct: true });
    await assert.rejects(status.get('beta.ingress.default.web'), /permissions violation/i);
    for (const subject of ['_INBOX.>', '$KV.ingressfed_state.>', '_INBOX_beta.>']) {
      const sub = attacker.subscribe(subject);
      await assert.rejects((async () => {
        for await (const m of sub) return m;
        return undefined;
      })(), /permissions violation/i, `subscribing to ${subject}`);
      await logged('Subscription', subject);
    }
    // Its own keys it may read.
    assert.ok(await kv.get('alpha._info'));
  });

  it("refuses alpha's identity deleting or reconfiguring the buckets, which would block every cluster", async () => {
    const version = await fed.edges[0]?.dp.client.getVersion() as number;
    const jsm = await jetstreamManager(attacker, { checkAPI: false });
    await assert.rejects(jsm.streams.delete(`KV_${STATE_BUCKET}`), /permissions violation/i);
    await assert.rejects(jsm.streams.purge(`KV_${STATE_BUCKET}`), /permissions violation/i);
    await assert.rejects(new Kvm(jetstream(attacker)).create('ingressfed_rogue'), /permissions violation/i);
    // The hub's own bucket of held records: no spoke may write or read it.
    const held = await new Kvm(jetstream(attacker)).open(HELD_BUCKET, { allow_direct: true });
    await assert.rejects(held.put('beta.ingress.default.web', '{}'), /permissions violation/i);
    await assert.rejects(held.get('beta.ingress.default.web'), /permissions violation/i);
    await untouched(version);
    assert.equal(await served('alpha.example.com'), 'alpha');
  });

  it('B13: refuses a hostile EndpointSlice (the edge itself, cloud metadata, unspecified), tells its owner and the operator, and leaves other routes alone', async () => {
    // The edges listen on 127.0.0.1 (their Data Plane API and the hub API too): an endpoint there
    // would make the entry point a proxy to them. 169.254.169.254 is a cloud metadata service.
    await fed.kubectl('alpha', ['create', '-f', '-'], service('evil'));
    await fed.kubectl('alpha', ['create', '-f', '-'], endpointSlice('evil', [{ address: '127.0.0.1' }, { address: '169.254.169.254' }, { address: '0.0.0.0' }]));
    await fed.kubectl('alpha', ['create', '-f', '-'], ingress('evil', [{ host: 'evil.example.com', paths: [{ path: '/', service: 'evil' }] }]));
    // The owner: a Degraded condition and a Warning Event on the Ingress, naming each address.
    const events = async (): Promise<KubeEvent[]> =>
      (JSON.parse(await fed.kubectl('alpha', ['get', 'events', '-o', 'json'])) as { items: KubeEvent[] }).items.filter((e) => e.involvedObject.name === 'evil');
    const ev = await waitFor('the EndpointsRefused event', async () => (await events()).find((e) => e.reason === 'EndpointsRefused'), { timeoutMs: 20_000 });
    assert.equal(ev.type, 'Warning');
    for (const a of ['127.0.0.1:8080', '169.254.169.254:8080', '0.0.0.0:8080']) assert.match(ev.message, new RegExp(a.replace(/\./g, '\\.')), a);
    assert.match(ev.message, /address of an edge/);
    // The operator: the hub API (the cluster's refused endpoints) and the log.
    const view = await httpRequest(`${fed.apiUrl}/api/v1/clusters/alpha`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const refused = view.json<{ refusedEndpoints: Array<{ address: string; reason: string }> }>().refusedEndpoints;
    assert.deepEqual(refused.map((e) => e.address).sort(), ['0.0.0.0', '127.0.0.1', '169.254.169.254']);
    assert.ok(fed.logs.some((l) => /endpoint refused/.test(l) && /169\.254\.169\.254/.test(l)), 'logged');
    // No server of the edge points there; the route has no server to reach (503), never the edge itself.
    await fed.hub.idle();
    const servers = [...(fed.hub.edgeStatus()[0]?.runtime?.values() ?? [])].flatMap((slots) => [...slots.values()]);
    for (const s of servers) assert.ok(!['127.0.0.1', '169.254.169.254', '0.0.0.0'].includes(String(s.address)) || s.admin_state === 'maint', `slot at ${s.address}`);
    assert.equal((await httpRequest(`${edgeUrl}/`, { host: 'evil.example.com' })).status, 503);
    assert.equal(await served('beta.example.com'), 'beta', "beta's route is untouched");
    assert.equal(await served('alpha.example.com'), 'alpha', "alpha's other route is untouched");
  });

  it("refuses a cluster the hub is not configured for, even with valid NATS credentials, and reports it", async () => {
    await fed.hub.idle();
    const version = await fed.edges[0]?.dp.client.getVersion() as number;
    const gamma = await fed.nats.connectAsSpoke('gamma');
    try {
      const kv = await new Kvm(jetstream(gamma)).open(STATE_BUCKET, { allow_direct: true });
      await kv.put('gamma._info', JSON.stringify({ schema: 1, cluster: 'gamma', zone: 'zone-c', region: null, endpointMode: 'pod', spokeVersion: 'x', epoch: 'e', startedAt: Date.now() }));
      const state = await waitFor('the refusal in the hub API', async () => {
        const r = await httpRequest(`${fed.apiUrl}/api/v1/state`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const s = r.json<{ refused: Array<{ key: string; reason: string }>; clusters: Array<{ name: string }> }>();
        return s.refused.some((x) => x.key === 'gamma._info') ? s : undefined;
      });
      assert.match(state.refused.find((x) => x.key === 'gamma._info')?.reason ?? '', /cluster 'gamma' is not one of the hub's clusters/);
      assert.deepEqual(state.clusters.map((c) => c.name).sort(), ['alpha', 'beta']);
      assert.ok(fed.logs.some((l) => /record refused/.test(l) && /gamma\._info/.test(l)), 'logged');
      await kv.delete('gamma._info');
    } finally {
      await gamma.close();
    }
    await fed.hub.idle();
    assert.equal(await fed.edges[0]?.dp.client.getVersion(), version, 'the edge configuration did not change');
    assert.equal(await served('beta.example.com'), 'beta');
  });

  it("repairs a key of beta deleted by someone holding beta's credentials: beta's spoke rewrites it", async () => {
    const holder = await fed.nats.connectAsSpoke('beta');
    try {
      const kv = await new Kvm(jetstream(holder)).open(STATE_BUCKET, { allow_direct: true });
      await kv.delete('beta.endpoints.default.beta-web');
      await waitFor('the key written again', async () => (await kv.get('beta.endpoints.default.beta-web'))?.operation === 'PUT', { timeoutMs: 10_000 });
    } finally {
      await holder.close();
    }
    assert.ok(fed.logs.some((l) => l.startsWith('spoke/beta warn') && /changed in the state bucket without this spoke/.test(l)), 'the spoke says so');
    await waitFor("beta's route served", async () => (await served('beta.example.com')) === 'beta', { timeoutMs: 10_000 });
  });

  it('reports a cluster whose keys differ from what its spoke published, and repairs them when the spoke is back', async () => {
    // beta's spoke is gone; someone holding beta's credentials deletes a key and keeps beta's
    // heartbeats going, with the digest the spoke had published.
    const beta = fed.clusters.get('beta') as { spoke: Spoke };
    await beta.spoke.stop();
    const holder = await fed.nats.connectAsSpoke('beta');
    try {
      const kv = await new Kvm(jetstream(holder)).open(STATE_BUCKET, { allow_direct: true });
      const hb = (await kv.get(heartbeatKey('beta')))?.json<Heartbeat>() as Heartbeat;
      await kv.delete('beta.endpoints.default.beta-web');
      const view = async (): Promise<{ recordsInSync: boolean | null }> =>
        (await httpRequest(`${fed.apiUrl}/api/v1/clusters/beta`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
      await waitFor('beta reported out of sync', async () => {
        await kv.put(heartbeatKey('beta'), JSON.stringify({ ...hb, time: Date.now() }));
        return (await view()).recordsInSync === false;
      }, { timeoutMs: 15_000, intervalMs: 300 });
      assert.ok(fed.logs.some((l) => /differ from what its spoke published/.test(l) && /beta/.test(l)), 'logged for the operator');
      const metrics = (await httpRequest(`${fed.apiUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).body;
      assert.match(metrics, /ingressfed_clusters_out_of_sync 1/);
      // The spoke comes back: it reads the bucket, rewrites the key, and its digest matches again.
      beta.spoke = fed.newSpoke('beta');
      await beta.spoke.start();
      await waitFor('beta in sync again', async () => (await view()).recordsInSync === true, { timeoutMs: 15_000 });
      assert.equal((await kv.get('beta.endpoints.default.beta-web'))?.operation, 'PUT');
    } finally {
      await holder.close();
    }
    await waitFor("beta's route served", async () => (await served('beta.example.com')) === 'beta', { timeoutMs: 10_000 });
  });
  it('keeps a host the host policy gives beta: an older Ingress of alpha with a longer path does not capture it', async () => {
    // alpha's Ingress is the older one, and claims a longer path too: without the policy it would win both.
    await fed.kubectl('alpha', ['create', '-f', '-'], ingress('grab', [{ host: 'shop.example.com', paths: [{ path: '/', service: 'alpha-web' }, { path: '/cart', service: 'alpha-web' }] }]));
    await fed.kubectl('beta', ['create', '-f', '-'], ingress('shop', [{ host: 'shop.example.com', paths: [{ path: '/', service: 'beta-web' }] }]));
    await waitFor('shop served by beta', async () => (await served('shop.example.com')) === 'beta', { timeoutMs: 20_000 });
    const cart = await httpRequest(`${edgeUrl}/cart`, { host: 'shop.example.com' });
    assert.equal(cart.json<EchoReply>().cluster, 'beta', 'the longer path is not alpha\'s either');
    // alpha's owner: an Invalid condition's Warning Event naming the policy.
    const ev = await waitFor('the Warning Event on grab', async () =>
      (JSON.parse(await fed.kubectl('alpha', ['get', 'events', '-o', 'json'])) as { items: KubeEvent[] }).items.find((e) => e.involvedObject.name === 'grab' && e.type === 'Warning'), { timeoutMs: 20_000 });
    assert.match(ev.message, /host 'shop\.example\.com' may be served only by cluster beta: hostPolicy 'shop\.example\.com'/);
    // The operator: the Ingress's state in the hub API.
    const state = (await httpRequest(`${fed.apiUrl}/api/v1/state`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<{ ingresses: Record<string, { state: string; reasons: string[] }> }>();
    assert.equal(state.ingresses['alpha/default/grab']?.state, 'invalid');
    assert.match(state.ingresses['alpha/default/grab']?.reasons.join('\n') ?? '', /hostPolicy 'shop\.example\.com'/);
    assert.equal(await served('alpha.example.com'), 'alpha', "alpha's own host is untouched");
    await fed.kubectl('alpha', ['delete', 'ingress', 'grab']);
  });

  it("F6: refuses a replayed older record of beta (written with beta's credentials), keeps the newer route, and still does after a hub restart", async () => {
    const holder = await fed.nats.connectAsSpoke('beta');
    const key = 'beta.ingress.default.web';
    try {
      const kv = await new Kvm(jetstream(holder)).open(STATE_BUCKET, { allow_direct: true });
      const old = (await kv.get(key))?.string() as string;
      // beta's owner adds a host: a newer record of the same key.
      await fed.kubectl('beta', ['replace', '-f', '-'], ingress('web', [
        { host: 'beta.example.com', paths: [{ path: '/', service: 'beta-web' }] },
        { host: 'beta2.example.com', paths: [{ path: '/', service: 'beta-web' }] },
      ]));
      await waitFor('beta2 served', async () => (await served('beta2.example.com')) === 'beta', { timeoutMs: 20_000 });
      // The spoke is away (its own watch would rewrite the key at once); the old record is replayed.
      const beta = fed.clusters.get('beta') as { spoke: Spoke };
      await beta.spoke.stop();
      await fed.hub.idle();
      const version = await fed.edges[0]?.dp.client.getVersion() as number;
      await kv.put(key, old);
      const reason = async (): Promise<string | undefined> => {
        const r = await httpRequest(`${fed.apiUrl}/api/v1/clusters/beta`, { headers: { authorization: `Bearer ${TOKEN}` } });
        return r.json<{ refused: Array<{ key: string; reason: string }> }>().refused.find((x) => x.key === key)?.reason;
      };
      assert.match(await waitFor('the refusal in the hub API', reason), /revision \d+ is older than revision \d+ already accepted/);
      assert.ok(fed.logs.some((l) => /record refused/.test(l) && l.includes(key)), 'logged');
      await fed.hub.idle();
      assert.equal(await fed.edges[0]?.dp.client.getVersion(), version, 'the edge configuration did not change');
      assert.equal(await served('beta2.example.com'), 'beta', 'the newer route is still served');
      // A new hub reads the older record from the state bucket, and the newer one it held.
      await fed.restartHub();
      await waitFor('the new hub ready', async () => fed.hub.ready);
      assert.match(await waitFor('the refusal after the restart', reason), /older than revision/);
      await fed.hub.idle();
      assert.equal(await served('beta2.example.com'), 'beta', 'the newer route is served after the restart');
      assert.equal(await fed.edges[0]?.dp.client.getVersion(), version, 'the edge configuration did not change');
      // beta's spoke comes back and rewrites the key: nothing is refused any more.
      beta.spoke = fed.newSpoke('beta');
      await beta.spoke.start();
      await waitFor('the refusal cleared', async () => (await reason()) === undefined, { timeoutMs: 15_000 });
      assert.equal(await served('beta2.example.com'), 'beta');
    } finally {
      await holder.close();
    }
  });
});
