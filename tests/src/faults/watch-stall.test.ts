import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';
import { startSpokeRig, type SpokeRig } from './spoke-rig.js';

// F10: a watch stream held open that sends nothing (no event, no bookmark, no error). The spoke asks
// for bookmarks; a watch silent for STALL_MS is checked with a one-object list, and relisted when
// the API server's revision is past everything the informer has seen.

const STALL_MS = 2000;
/** The informer checks a quarter of STALL_MS apart. */
const CHECK_MS = STALL_MS / 4;
/** A change missed by a stalled watch is published within STALL_MS + CHECK_MS, plus a list and a pass (1.5 s on loopback). */
const BOUND_MS = STALL_MS + CHECK_MS + 1500;
/** How long the spoke waits for a list or for the answer to a watch request. */
const REQUEST_TIMEOUT_MS = 3000;

describe('faults: an informer whose watch silently stalls', { timeout: 90_000 }, () => {
  let rig: SpokeRig;
  const stallLines = (informer?: string) => rig.logs.filter((l) => l.msg.startsWith('watch stalled') && (informer === undefined || l.fields.informer === informer));
  const web = (name: string, host: string): string => ingress(name, [{ host, paths: [{ path: '/', service: 'web' }] }]);

  before(async () => {
    rig = await startSpokeRig({ kube: { bookmarkIntervalMs: 300 }, spoke: { watchStallMs: STALL_MS, kubeRequestTimeoutMs: REQUEST_TIMEOUT_MS } });
    await rig.kubectl(['create', '-f', '-'], ingressClass());
    await rig.kubectl(['create', '-f', '-'], service('web'));
    await rig.kubectl(['create', '-f', '-'], endpointSlice('web', [{ address: '127.0.1.1' }]));
    await rig.kubectl(['create', '-f', '-'], web('web', 'web.example.com'));
    await waitFor('the first Ingress published', () => rig.entry('alpha.ingress.default.web'));
  });

  after(async () => {
    await rig?.stop();
  });

  it('F10: takes no healthy idle watch for stalled while the cluster changes elsewhere (bookmarks keep it alive)', async () => {
    // Services nobody references move the API server's revision for twice the stall time; the
    // IngressClass watch sees none of it but its bookmarks.
    const start = Date.now();
    for (let i = 0; Date.now() - start < 2 * STALL_MS + CHECK_MS; i++) await rig.kubectl(['create', '-f', '-'], service(`unused-${i}`));
    assert.deepEqual(stallLines(), [], 'no watch taken for stalled');
    assert.equal(rig.spoke.informerHealth().ingressClasses?.stalls, 0);
  });

  it(`F10: detects a watch held open and silent within ${BOUND_MS} ms, relists, publishes what it missed, and reports it`, async () => {
    rig.kube.api.stallWatches(true);
    const t0 = Date.now();
    await rig.kubectl(['create', '-f', '-'], web('late', 'late.example.com'));
    const publishedAt = await waitFor('the Ingress created during the stall published', async () => (await rig.entry('alpha.ingress.default.late')) && Date.now(),
      { timeoutMs: BOUND_MS + 5000 });
    assert.ok(publishedAt - t0 <= BOUND_MS, `published ${publishedAt - t0} ms after its creation; the bound is ${BOUND_MS} ms`);
    // The stalled stream delivered nothing: the record came from the relist the stall started.
    const line = stallLines('ingresses')[0];
    assert.ok(line, 'the stall is logged for the ingresses informer');
    assert.ok(line.at <= publishedAt, 'logged before the record was published');
    assert.equal(line.level, 'warn');
    assert.ok(BigInt(String(line.fields.serverRevision)) > BigInt(String(line.fields.seenRevision)), JSON.stringify(line.fields));
    assert.ok(Number(line.fields.silentMs) >= STALL_MS);
    const health = rig.spoke.informerHealth().ingresses;
    assert.ok(health && health.stalls >= 1 && (health.lastStallAt ?? 0) >= t0, JSON.stringify(health));
    assert.equal(health.failingSince, undefined, 'a stall is not an unavailable source');
  });

  it('F10: watches normally again once the streams recover: the next change arrives through the watch', async () => {
    rig.kube.api.stallWatches(false);
    await waitFor('every informer watching again', () => rig.kube.api.openWatches >= 4);
    const stallsBefore = rig.spoke.informerHealth().ingresses?.stalls;
    const t0 = Date.now();
    await rig.kubectl(['create', '-f', '-'], web('after', 'after.example.com'));
    const publishedAt = await waitFor('the next Ingress published', async () => (await rig.entry('alpha.ingress.default.after')) && Date.now(), { timeoutMs: BOUND_MS });
    assert.ok(publishedAt - t0 < STALL_MS, `published after ${publishedAt - t0} ms: through the watch, not a stall relist`);
    assert.equal(rig.spoke.informerHealth().ingresses?.stalls, stallsBefore);
  });

  it('F10: gives up a watch request the API server takes and never answers, says so, and watches again', async () => {
    await waitFor('every informer watching', () => rig.kube.api.openWatches >= 4);
    const restartsBefore = rig.spoke.informerHealth().ingresses?.restarts ?? 0;
    rig.kube.api.leaveWatchesUnanswered(true);
    rig.kube.api.expireWatches(); // every informer lists again, then asks for a watch that is never answered
    await waitFor('four watch requests taken and left unanswered', () => rig.kube.api.unansweredWatches >= 4);
    await rig.kubectl(['create', '-f', '-'], web('unanswered', 'unanswered.example.com'));
    // The requests already taken stay unanswered for ever; only new ones are answered.
    rig.kube.api.leaveWatchesUnanswered(false);
    await waitFor('the Ingress created while the watch hung published', () => rig.entry('alpha.ingress.default.unanswered'),
      { timeoutMs: REQUEST_TIMEOUT_MS + 5000 });
    const line = rig.logs.find((l) => l.msg.startsWith('informer stopped') && l.fields.informer === 'ingresses');
    assert.ok(line && String(line.fields.error).includes('did not answer a watch'), JSON.stringify(line));
    assert.ok((rig.spoke.informerHealth().ingresses?.restarts ?? 0) > restartsBefore);
  });
});
