import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, startProber, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F22 of the matrix: a reload fails after its commit. HAProxy checked the configuration at
// commit; before the reload (the edge's reload delay) the map files it names are deleted, so loading
// it fails. The Data Plane API restores the last good configuration and HAProxy keeps serving it.
// The hub reports the failure, reads the edge again (writing its map files anew) and plans again
// once: the change goes live, nothing is quarantined, and other routes are served throughout.

/** Seconds between a commit and its reload: the window in which the files go. */
const RELOAD_DELAY_S = 2;

describe('faults: a reload that fails after its commit', { timeout: 120_000 }, () => {
  let fed: Federation;
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  const served = async (host: string): Promise<boolean> => {
    const r = await httpRequest(`${edgeUrl()}/`, { host });
    return r.status === 200 && r.json<EchoReply>().host === host;
  };
  const reloadFailures = async (): Promise<number> => {
    const v = (await fed.hub.metrics.reloadFailures.get()).values;
    return v.reduce((a, x) => a + x.value, 0);
  };

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }], edges: [{ name: 'edge-a', zone: 'zone-a', spareBackends: 0 }], reloadDelaySeconds: RELOAD_DELAY_S });
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: '127.0.221.1' }]),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor('web served', () => served('web.example.test'), { timeoutMs: 30_000 });
    await fed.hub.idle();
  });

  after(async () => {
    await fed?.stop();
  });

  it('F22: a reload that fails after its commit is reported; HAProxy keeps its last good configuration; the hub reads the edge again and plans anew, and the change goes live; nothing quarantined', async () => {
    const dp = fed.edges[0]?.dp;
    assert.ok(dp);
    const mapsDir = join(dp.workdir, 'maps');
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    let probed: { requests: number; failures: number } | undefined;
    try {
      const v0 = await dp.client.getVersion();
      const logsAt = fed.logs.length;
      // A change that needs a transaction: a new backend and its route.
      await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[service('late'), endpointSlice('late', [{ address: '127.0.221.2' }]),
        ingress('late', [{ host: 'late.example.test', paths: [{ path: '/', service: 'late' }] }])].join('\n---\n')}\n`);
      await fed.echo.settled();
      await waitFor('the commit', async () => (await dp.client.getVersion()) > v0, { timeoutMs: 20_000, intervalMs: 10 });
      const committedAt = Date.now();
      // Within the reload delay: the map files the committed configuration names are gone.
      const removed = readdirSync(mapsDir).filter((f) => f.endsWith('.map'));
      for (const f of removed) rmSync(join(mapsDir, f));
      const removedAfterMs = Date.now() - committedAt;
      assert.ok(removed.length > 0, 'map files removed');
      assert.ok(removedAfterMs < RELOAD_DELAY_S * 1000 / 2, 'removed well before the reload');

      const reported = await waitFor('the failed reload reported', () => fed.logs.slice(logsAt).find((l) => /HAProxy failed to load the committed configuration/.test(l)), { timeoutMs: 20_000 });
      assert.match(reported, /keeps its last good one/);
      await waitFor('late served after the hub planned anew', () => served('late.example.test'), { timeoutMs: 30_000 });
      await fed.hub.idle();
      assert.equal(await reloadFailures(), 1, 'one failed reload counted (ingressfed_reload_failures_total)');
      assert.deepEqual(fed.hub.quarantine.list(), [], 'nothing quarantined: the configuration was not at fault');
      assert.equal(fed.hub.edgeStatus()[0]?.lastError, undefined, 'the edge applies again');
      assert.ok(readdirSync(mapsDir).some((f) => f.endsWith('.map')), 'the hub wrote the map files again');
      probed = await prober.stop();
      console.log(`F22: ${removed.length} map files removed ${removedAfterMs} ms after the commit (reload delay ${RELOAD_DELAY_S} s); the reload failed and was reported; late served after a new plan; probes ${probed.failures}/${probed.requests} failed`);
    } finally {
      if (!probed) await prober.stop();
    }
    assert.equal(probed.failures, 0, `${probed.failures} of ${probed.requests} probes failed`);
  });
});
