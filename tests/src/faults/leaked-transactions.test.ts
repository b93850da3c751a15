import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataPlaneError } from '@ingressfed/dataplane';
import { httpRequest, startFederation, startProber, waitFor, type Federation } from '../harness/index.js';
import { ingress, ingressClass } from '../kube/manifests.js';
import { create, serviceWithEndpoint, whoAnswers } from '../semantics/fixtures.js';

// Fault row F20 of the matrix: the Data Plane API answers 429 (too many transactions) because 20
// transactions were started and left open. The hub deletes them, applies its change, says so in a
// warning, and counts them in ingressfed_transactions_reclaimed_total{edge}.

const TOKEN = 'faults-leaked-transactions-token-0123456789';
const RECLAIMED = /^ingressfed_transactions_reclaimed_total\{edge="edge-a"\} (\d+)$/m;

describe('faults: leaked Data Plane API transactions', { timeout: 120_000 }, () => {
  let fed: Federation;
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  const metrics = async (): Promise<string> => {
    const r = await httpRequest(`${fed.apiUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200);
    return r.body;
  };

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }],
      // No spare backends: a new Service takes a transaction (a new route alone would not).
      edges: [{ name: 'edge-a', zone: 'zone-a', spareBackends: 0 }],
      api: { tokens: [{ name: 'ops', token: TOKEN, role: 'read' }] },
    });
    await create(fed, 'alpha', [ingressClass(), ...serviceWithEndpoint('web', '127.0.176.1'), ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }])]);
    await waitFor('web served', async () => (await whoAnswers(edgeUrl(), 'web.example.test', '/')) === 'web', { timeoutMs: 20_000 });
    await fed.hub.idle();
  });

  after(async () => {
    await fed?.stop();
  });

  it('F20: 20 leaked transactions fill the open-transaction limit: the hub deletes them, its change goes live, a warning and ingressfed_transactions_reclaimed_total say so, traffic is served', async () => {
    const c = fed.edges[0]!.dp.client;
    assert.equal(RECLAIMED.exec(await metrics()), null, 'nothing reclaimed yet');
    assert.match(await metrics(), /^# HELP ingressfed_transactions_reclaimed_total Abandoned transactions deleted/m);
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    let probes: { requests: number; failures: number };
    try {
      // Leaked: started at the current version by a writer that never comes back.
      const v = await c.getVersion();
      const leaked = new Set<string>();
      for (let i = 0; i < 20; i++) leaked.add((await c.startTransaction(v)).id as string);
      assert.equal((await c.listTransactions('in_progress')).length, 20);
      await assert.rejects(c.startTransaction(v), (err: unknown) => err instanceof DataPlaneError && err.code === 'INGRESSFED_ERR_DPAPI_TOO_MANY_TRANSACTIONS',
        'the limit is reached: the Data Plane API answers 429');

      const warnings = fed.logs.filter((l) => /deleted abandoned transactions/.test(l)).length;
      await create(fed, 'alpha', [...serviceWithEndpoint('after-leak', '127.0.176.2'),
        ingress('after-leak', [{ host: 'after-leak.example.test', paths: [{ path: '/', service: 'after-leak' }] }])]);
      await waitFor('the change live', async () => (await whoAnswers(edgeUrl(), 'after-leak.example.test', '/')) === 'after-leak', { timeoutMs: 30_000 });

      const warning = fed.logs.filter((l) => /deleted abandoned transactions/.test(l)).slice(warnings);
      assert.equal(warning.length, 1, warning.join('\n'));
      assert.match(warning[0]!, /^hub\d+ warn deleted abandoned transactions to get under the open-transaction limit \{"edge":"edge-a","count":20\}$/);
      assert.equal(Number(RECLAIMED.exec(await metrics())?.[1]), 20);
      const open = await c.listTransactions('in_progress');
      assert.deepEqual(open.filter((t) => leaked.has(t.id as string)), [], 'no leaked transaction is left open');
      assert.equal(open.length, 0);
    } finally {
      probes = await prober.stop();
    }
    assert.equal(probes.failures, 0, `${probes.failures} of ${probes.requests} probes failed`);
    assert.ok(probes.requests > 20, `${probes.requests} probes`);
  });
});
