import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, startProber, waitFor, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F26 of the matrix: a Deployment scaled 0 ↔ 50 again and again. The slots it grew into
// stay (a pool shrinks only after SHRINK_AFTER_MS far below its size), so every flip goes live at
// runtime: no reload, and other routes are served throughout.

const FLIPS = 6;
const fifty = Array.from({ length: 50 }, (_, i) => ({ address: `127.0.200.${i + 1}` }));

describe('faults: endpoint churn', { timeout: 180_000 }, () => {
  let fed: Federation;
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  const endpointsOf = (service: string): number => fed.hub.currentModel()?.backends.find((b) => b.id.service === service)?.endpoints.length ?? -1;
  const scaleTo = async (n: number): Promise<void> => {
    await fed.kubectl('alpha', ['replace', '-f', '-'], endpointSlice('churn', fifty.slice(0, n)));
    await fed.echo.settled();
    await waitFor(`${n} endpoints in the model`, async () => endpointsOf('churn') === n, { timeoutMs: 15_000 });
    // Until the edge has nothing left to do: no transaction waiting for the model to settle.
    await waitFor('the edge settled', async () => {
      await fed.hub.idle();
      return fed.hub.edgeStatus()[0]?.transactionDeferred === false;
    }, { timeoutMs: 15_000 });
    await waitFor(`churn answering ${n > 0 ? 200 : 503}`, async () => (await httpRequest(`${edgeUrl()}/`, { host: 'churn.example.test' })).status === (n > 0 ? 200 : 503), { timeoutMs: 15_000 });
  };

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }] });
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: '127.0.201.1' }]),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }]),
      service('churn'), endpointSlice('churn', [{ address: '127.0.200.1' }]),
      ingress('churn', [{ host: 'churn.example.test', paths: [{ path: '/', service: 'churn' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor('both served', async () => (await httpRequest(`${edgeUrl()}/`, { host: 'web.example.test' })).status === 200 &&
      (await httpRequest(`${edgeUrl()}/`, { host: 'churn.example.test' })).status === 200, { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  it(`F26: a Service scaled 0 ↔ 50 ${FLIPS} times reloads once (its first growth), and other routes are served throughout`, async () => {
    await scaleTo(50);
    const transactions = fed.hub.edgeStatus()[0]?.transactions ?? 0;
    const version = await fed.edges[0]?.dp.client.getVersion();
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    for (let i = 0; i < FLIPS; i++) await scaleTo(i % 2 === 0 ? 0 : 50);
    const { requests, failures } = await prober.stop();
    const runtime = fed.hub.edgeStatus()[0]?.applies ?? 0;
    console.log(`${FLIPS} flips: ${(fed.hub.edgeStatus()[0]?.transactions ?? 0) - transactions} transactions, ${runtime} applies in all, ${requests} probes`);
    assert.equal(fed.hub.edgeStatus()[0]?.transactions, transactions, 'no transaction (no reload) for a flip');
    assert.equal(await fed.edges[0]?.dp.client.getVersion(), version, 'the configuration version did not move');
    assert.equal(failures, 0, `${failures} of ${requests} probes of another route failed`);
  });
});
