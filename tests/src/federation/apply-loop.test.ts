import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, waitFor, type Federation } from '../harness/index.js';
import { ingress, ingressClass } from '../kube/manifests.js';
import { create, serviceWithEndpoint, whoAnswers } from '../semantics/fixtures.js';

// The apply loop against HAProxy's refusals, leaked transactions and idle time: it cannot wedge,
// one cluster's bad change blocks no other, nothing reloads without a change, and a status never
// claims what is not live.

interface KubeEvent { involvedObject: { name: string }; reason: string; message: string; type: string }

// An operator's validate command (dataplaneapi's validate_cmd) that refuses any configuration with a
// backend for the Service `poison`: HAProxy-side refusal the hub cannot predict from the records.
const REFUSE_POISON = 'if grep -q "^backend ingressfed_be_default_poison_" "$DATAPLANEAPI_TRANSACTION_FILE"; then echo "[ALERT] config : backend for service poison refused by policy" >&2; exit 1; fi';

describe('apply loop: refusals, leaked transactions, idle edges, truthful status', { timeout: 240_000 }, () => {
  let fed: Federation;
  let edge: string;
  const events = async (cluster: string, name: string): Promise<KubeEvent[]> =>
    (JSON.parse(await fed.kubectl(cluster, ['get', 'events', '-o', 'json'])) as { items: KubeEvent[] }).items.filter((e) => e.involvedObject.name === name);
  const addresses = (cluster: string, name: string): Promise<string> =>
    fed.kubectl(cluster, ['get', 'ingress', name, '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}']);
  const metric = async (name: string): Promise<number> => {
    const line = (await fed.hub.metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line?.split(' ')[1] ?? NaN);
  };
  const reloads = async (): Promise<number> => (await fed.edges[0]!.dp.procState()).master.reloads;

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }],
      // No spare backends: new Services take a transaction, which HAProxy and the policy check.
      edges: [{ name: 'edge-a', zone: 'zone-a', validateCmd: REFUSE_POISON, spareBackends: 0 }],
      hub: { fullRecomputeIntervalMs: 3000 },
    });
    edge = fed.edges[0]!.url;
    await create(fed, 'alpha', [ingressClass(), ...serviceWithEndpoint('good', '127.0.110.1'), ...serviceWithEndpoint('later', '127.0.110.2')]);
    await create(fed, 'beta', [ingressClass(), ...serviceWithEndpoint('poison', '127.0.111.1'), ...serviceWithEndpoint('fine', '127.0.111.2')]);
    await create(fed, 'alpha', [ingress('good', [{ host: 'good.example.test', paths: [{ path: '/', service: 'good' }] }])]);
    await waitFor('good.example.test live', async () => (await whoAnswers(edge, 'good.example.test', '/')) === 'good');
  });

  after(async () => {
    await fed?.stop();
  });

  it('writes free text so that the configuration is valid: unknown hosts get 404 "no route"', async () => {
    const r = await httpRequest(`${edge}/`, { host: 'unknown.example.test' });
    assert.equal(r.status, 404);
    assert.equal(r.body, 'no route');
    const cfg = await fed.edges[0]!.dp.client.api.GET('/services/haproxy/configuration/raw', { parseAs: 'text' });
    assert.match(String(cfg.data), /http-request return status 404 content-type text\/plain string "no route"/);
  });

  it('F21: quarantines the change HAProxy refuses for one cluster while the other cluster\'s new route goes live', async () => {
    // Both changes arrive together: beta's Ingress needs a backend the edge refuses, alpha's is fine.
    await Promise.all([
      create(fed, 'beta', [ingress('bad', [{ host: 'bad.example.test', paths: [{ path: '/', service: 'poison' }] }])]),
      create(fed, 'alpha', [ingress('later', [{ host: 'later.example.test', paths: [{ path: '/', service: 'later' }] }])]),
    ]);
    await waitFor('alpha\'s new route live', async () => (await whoAnswers(edge, 'later.example.test', '/')) === 'later', { timeoutMs: 30_000 });
    assert.equal(await whoAnswers(edge, 'good.example.test', '/'), 'good', 'the route that was live stays live');
    assert.equal(await whoAnswers(edge, 'bad.example.test', '/'), '404', 'the refused route is not served');
    // Reported where the operator and the owner see it: the hub API and a Warning Event on the Ingress.
    const state = await waitFor('the quarantine in the hub', async () => {
      const q = fed.hub.quarantine.list();
      return q.length > 0 ? q : undefined;
    });
    assert.deepEqual(state.map((q) => q.key), ['beta.ingress.default.bad']);
    assert.match(state[0]!.reason, /poison refused by policy/);
    const ev = await waitFor('the Quarantined event', async () => (await events('beta', 'bad')).find((e) => e.reason === 'Quarantined'), { timeoutMs: 15_000 });
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /refused the change of beta\.ingress\.default\.bad.*poison refused by policy/);
    assert.equal(await addresses('beta', 'bad'), '', 'a refused Ingress is not reported served');
    assert.equal(await addresses('alpha', 'later'), '127.0.0.1');
  });

  it('tries a quarantined Ingress again once its owner changes it', async () => {
    await fed.kubectl('beta', ['replace', '-f', '-'], ingress('bad', [{ host: 'bad.example.test', paths: [{ path: '/', service: 'fine' }] }]));
    await waitFor('the fixed route live', async () => (await whoAnswers(edge, 'bad.example.test', '/')) === 'fine', { timeoutMs: 30_000 });
    await waitFor('the quarantine lifted', async () => fed.hub.quarantine.size === 0);
    await waitFor('the status address', async () => (await addresses('beta', 'bad')) === '127.0.0.1', { timeoutMs: 10_000 });
  });

  it('applies a change after 20 leaked transactions filled the open-transaction limit', async () => {
    const c = fed.edges[0]!.dp.client;
    const v = await c.getVersion();
    for (let i = 0; i < 20; i++) await c.startTransaction(v);
    assert.equal((await c.listTransactions('in_progress')).length, 20);
    // A new Service: its backend is new, so the change needs a transaction (a new route alone does not).
    await create(fed, 'alpha', [...serviceWithEndpoint('leak', '127.0.110.3'), ingress('after-leak', [{ host: 'after-leak.example.test', paths: [{ path: '/', service: 'leak' }] }])]);
    await waitFor('the new route live', async () => (await whoAnswers(edge, 'after-leak.example.test', '/')) === 'leak', { timeoutMs: 30_000 });
    assert.ok((await c.listTransactions('in_progress')).length < 20, 'the leaked transactions were reclaimed');
  });

  it('reloads nothing during an idle minute of resyncs and full recomputes', async () => {
    await fed.hub.idle();
    const before = await reloads();
    const recomputes = await metric('ingressfed_merge_seconds_count');
    const tx = fed.hub.edgeStatus()[0]!.transactions;
    const applies = fed.hub.edgeStatus()[0]!.applies;
    const until = Date.now() + 60_000;
    await waitFor('an idle minute', async () => Date.now() >= until, { timeoutMs: 70_000, intervalMs: 1000 });
    const st = fed.hub.edgeStatus()[0]!;
    assert.ok(st.applies >= applies + 20, `the edge was reconciled (${st.applies - applies} passes with a 2 s resync)`);
    assert.equal(st.transactions, tx, 'no transaction');
    assert.equal(await reloads(), before, 'no HAProxy reload');
    assert.ok(await metric('ingressfed_merge_seconds_count') >= recomputes + 15, 'the model was recomputed from every record (every 3 s)');
    assert.equal(await metric('ingressfed_merge_drift_total'), 0, 'and the recompute found nothing the incremental merge had missed');
  });

  it('does not report an Ingress served while its edge cannot apply, and says why', async () => {
    await fed.edges[0]!.dp.stop();
    await create(fed, 'alpha', [ingress('unserved', [{ host: 'unserved.example.test', paths: [{ path: '/', service: 'good' }] }])]);
    const ev = await waitFor('the EdgeNotProgrammed event', async () => (await events('alpha', 'unserved')).find((e) => e.reason === 'EdgeNotProgrammed'), { timeoutMs: 20_000 });
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /not live on edge edge-a: .*unreachable/);
    assert.equal(await addresses('alpha', 'unserved'), '', 'no address while no edge serves it');
    assert.equal((await events('alpha', 'unserved')).some((e) => e.reason === 'Accepted'), false);
  });
});
