import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';
import { CLUSTER, startSpokeRig, type SpokeRig } from './spoke-rig.js';

// F8: the spoke's Kubernetes API server goes away. The spoke keeps every record it published (no
// synthetic deletes), its heartbeat says since when and why it cannot read its cluster, and the hub
// reports the cluster `source-unavailable` with the age, until the API server is back.

const HEARTBEAT_MS = 200;
/** Reported within one heartbeat of the first failed request (a dropped watch is retried at once); 2 s on loopback. */
const REPORT_BOUND_MS = HEARTBEAT_MS + 2000;
/** Cleared once an informer's next retry succeeds (backoff of at most 10 s), plus a heartbeat. */
const CLEAR_BOUND_MS = 10_000 + HEARTBEAT_MS + 2000;

interface HealthView { name: string; state: string; sourceUnavailable?: { forMs: number; reason: string } }

describe('faults: the spoke\'s Kubernetes API server is unavailable', { timeout: 90_000 }, () => {
  let rig: SpokeRig;
  const view = (): HealthView | undefined => (rig.hub?.clusters() as HealthView[] | undefined)?.find((c) => c.name === CLUSTER);
  const records = async (): Promise<Array<[string, number]>> => {
    // A key listing may name a key twice (it lists the bucket's messages while heartbeats are written).
    const out = new Map<string, number>();
    for await (const k of await rig.kv.keys(`${CLUSTER}.>`)) {
      const e = k.endsWith('._heartbeat') || k.endsWith('._info') ? undefined : await rig.entry(k);
      if (e) out.set(k, e.revision);
    }
    return [...out].sort();
  };
  const routed = (host: string): boolean => rig.hub?.currentModel()?.routes.some((r) => r.host === host) ?? false;

  before(async () => {
    rig = await startSpokeRig({ hub: true, spoke: { heartbeatIntervalMs: HEARTBEAT_MS } });
    await rig.kubectl(['create', '-f', '-'], ingressClass());
    await rig.kubectl(['create', '-f', '-'], service('web'));
    await rig.kubectl(['create', '-f', '-'], endpointSlice('web', [{ address: '127.0.1.1' }]));
    await rig.kubectl(['create', '-f', '-'], ingress('web', [{ host: 'web.example.com', paths: [{ path: '/', service: 'web' }] }]));
    await waitFor('the route in the hub\'s model, the cluster live', () => routed('web.example.com') && view()?.state === 'live', { timeoutMs: 15_000 });
  });

  after(async () => {
    await rig?.stop();
  });

  it('F8: keeps records and routes, and says SourceUnavailable with its age in the heartbeat and the hub\'s cluster health; clears when the API server is back', async () => {
    const before = await records();
    const port = Number(new URL(rig.kube.api.url).port);
    const stoppedAt = Date.now();
    await rig.kube.api.stop();

    const hb = await waitFor('a heartbeat saying the source is unavailable', async () => {
      const h = await rig.heartbeat();
      return h?.sourceUnavailable ? h : undefined;
    }, { timeoutMs: REPORT_BOUND_MS });
    const src = hb.sourceUnavailable;
    assert.ok(src && src.since >= stoppedAt && src.since <= hb.time, JSON.stringify(hb));
    // The failing informers, then the first one's error.
    const reason = /^(ingressClasses|ingresses|services|endpointSlices)(, [A-Za-z]+)*: \S/;
    assert.match(src.reason, reason);
    const first = await waitFor('the hub\'s view: source-unavailable', () => view()?.state === 'source-unavailable' && view(), { timeoutMs: REPORT_BOUND_MS });
    assert.ok(Date.now() - stoppedAt <= REPORT_BOUND_MS + 500, `reported ${Date.now() - stoppedAt} ms after the API server stopped`);
    assert.match(first.sourceUnavailable?.reason ?? '', reason);
    // The age is the outage's, and it grows on the hub's clock.
    const age = first.sourceUnavailable?.forMs ?? -1;
    assert.ok(age >= 0 && age <= Date.now() - stoppedAt + 100, `age ${age} ms`);
    await waitFor('the age to grow', () => (view()?.sourceUnavailable?.forMs ?? 0) >= age + 500, { timeoutMs: 5000 });
    assert.ok(rig.logs.some((l) => l.msg === 'informer stopped; restarting'), 'the spoke logged the failure');

    // Nothing was deleted or rewritten; the hub still routes the host; the spoke is still synced.
    assert.deepEqual(await records(), before);
    assert.ok(routed('web.example.com'));
    assert.equal(hb.synced, true);

    const restartedAt = Date.now();
    await rig.kube.api.start(port);
    await waitFor('a heartbeat without sourceUnavailable', async () => {
      const h = await rig.heartbeat();
      return h !== undefined && h.time > restartedAt && h.sourceUnavailable === undefined;
    }, { timeoutMs: CLEAR_BOUND_MS });
    await waitFor('the hub\'s view: live again', () => view()?.state === 'live' && view()?.sourceUnavailable === undefined, { timeoutMs: 5000 });
    assert.ok(rig.logs.some((l) => l.msg === 'informer reaches the API server again' && Number(l.fields.unavailableMs) > 0));
    assert.equal(rig.spoke.sourceUnavailable(), undefined);

    // And it reads the cluster again: a change made now is published.
    await rig.kubectl(['create', '-f', '-'], ingress('after', [{ host: 'after.example.com', paths: [{ path: '/', service: 'web' }] }]));
    await waitFor('the new Ingress published and routed', () => routed('after.example.com'), { timeoutMs: 10_000 });
  });
});
