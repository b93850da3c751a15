import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, runLoad, startFederation, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { deployWeb, settledOn } from './fixtures.js';

// Abrupt loss of a whole zone under load, through the edge of that zone.

describe('failover: a zone lost abruptly under load, invisible to clients', { timeout: 180_000 }, () => {
  let fed: Federation;
  let edge: string;
  const zonesServing = async (n: number): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await httpRequest(`${edge}/`, { host: 'web.example.test' });
      seen.add(r.status === 200 ? String(r.json<EchoReply>().zone) : `status ${r.status}`);
    }
    return seen;
  };

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }], edges: [{ name: 'edge-a', zone: 'zone-a' }] });
    edge = fed.edges[0]?.url as string;
    await deployWeb(fed, {
      alpha: [{ address: '127.0.110.1', zone: 'zone-a' }, { address: '127.0.110.2', zone: 'zone-a' }],
      beta: [{ address: '127.0.111.1', zone: 'zone-b' }, { address: '127.0.111.2', zone: 'zone-b' }],
    });
    await waitFor('all four endpoints placed', () => (fed.hub.edgeStatus()[0]?.last?.plan.backends[1]?.slots.filter((s) => s.endpoint).length ?? 0) === 4, { timeoutMs: 20_000 });
    await fed.echo.settled();
  });

  after(async () => {
    await fed?.stop();
  });

  it('serves only its own zone while that zone is healthy (zone-a primary, zone-b backup)', async () => {
    assert.deepEqual([...(await zonesServing(12))], ['zone-a']);
  });

  it('fails zone a over to zone b with zero failed requests, and comes back after recovery', async () => {
    const failAt = 2000;
    let failedEndpoints: string[] = [];
    const load = runLoad({ url: `${edge}/`, host: 'web.example.test', concurrency: 16, durationMs: 7000, onStart: () => {
      setTimeout(() => void fed.echo.fail((meta) => meta.zone === 'zone-a').then((hit) => (failedEndpoints = hit)), failAt);
    } });
    const summary = await load;
    assert.deepEqual(failedEndpoints.sort(), ['127.0.110.1:8080', '127.0.110.2:8080']);
    const shift = settledOn(summary.results, 'zone-b');
    const before = summary.results.filter((r) => r.doneAt < failAt);
    console.log(`failover: ${summary.results.length} requests in ${summary.durationMs} ms (${summary.requestsPerSecond.toFixed(0)} req/s, 16 workers), ` +
      `${summary.failed} failed; zone a lost at ${failAt} ms; all traffic on zone b from ${shift} ms (${shift === undefined ? '-' : shift - failAt} ms after the loss)`);
    assert.equal(summary.failed, 0, `failed requests: ${JSON.stringify(summary.results.filter((r) => r.status !== 200).slice(0, 5))}`);
    assert.ok(summary.requestsPerSecond >= 500, `load of ${summary.requestsPerSecond.toFixed(0)} req/s is below 500`);
    assert.ok(before.length > 0 && before.every((r) => r.zone === 'zone-a'), 'every request answered before the loss was answered by zone a');
    assert.ok(shift !== undefined && shift - failAt <= 3000, `all traffic on zone b ${shift === undefined ? 'never' : `${shift - failAt} ms`} after the loss`);

    await fed.echo.recover();
    await waitFor('traffic back on zone a', async () => {
      const z = await zonesServing(8);
      return z.size === 1 && z.has('zone-a');
    }, { timeoutMs: 15_000 });
  });
});
