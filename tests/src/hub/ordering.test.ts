import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { HELD_BUCKET, STATE_BUCKET, type IngressRecord } from '@ingressfed/schemas';
import { openBucket } from '@ingressfed/schemas/nats';
import { StateIntake } from '@ingressfed/hub';
import { startNats, waitFor, type NatsServer } from '../harness/index.js';

// The hub's intake against a real NATS server: a record older than the one accepted for its key
// (or than the key's deletion) never replaces it, and what the hub holds survives its restart.

const KEY = 'alpha.ingress.default.web';
const record = (revision: string, host: string): IngressRecord => ({
  schema: 1, cluster: 'alpha', kind: 'ingress', epoch: 'e', observedAt: 0, revision,
  source: { uid: 'u-web', resourceVersion: revision, creationTimestamp: '2026-01-01T00:00:00Z' }, namespace: 'default', name: 'web',
  spec: { className: null, annotations: {}, defaultBackend: null, tls: [], rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] }] },
});

describe('hub intake: record order', { timeout: 60_000 }, () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let state: KV;
  const intakes: StateIntake[] = [];
  const start = async (): Promise<StateIntake> => {
    const intake = new StateIntake({ onChange: () => undefined, log: () => undefined });
    intakes.push(intake);
    await intake.start(state, await openBucket(nc, HELD_BUCKET));
    await waitFor('the state bucket read', async () => intake.initialized);
    return intake;
  };
  const host = (i: StateIntake): string | undefined => (i.record(KEY) as IngressRecord | undefined)?.spec.rules[0]?.host;
  const put = async (i: StateIntake, r: IngressRecord): Promise<void> => {
    const seq = await state.put(KEY, JSON.stringify(r));
    // Wait until the intake's watch has delivered and judged this write (taken or refused).
    await waitFor(`revision ${r.revision} seen`, () => i.position >= seq);
  };

  before(async () => {
    nats = await startNats();
    nc = await nats.connectAsHub();
    state = await new Kvm(jetstream(nc)).open(STATE_BUCKET);
  });
  after(async () => {
    for (const i of intakes) i.stop();
    await nc?.close();
    await nats?.stop();
  });

  it('F6: refuses an older revision, accepts the same and newer ones, and holds the newer across a restart', async () => {
    const first = await start();
    await put(first, record('10', 'v10.example.com'));
    await put(first, record('20', 'v20.example.com'));
    assert.equal(host(first), 'v20.example.com');
    await put(first, record('10', 'v10.example.com'));
    assert.equal(host(first), 'v20.example.com', 'the older record did not replace the newer');
    assert.match(first.refused.get(KEY)?.reason ?? '', /revision 10 is older than revision 20 already accepted/);
    await first.held.flushed();
    first.stop();

    // A new intake reads revision 10 from the state bucket, and the revision 20 it held.
    const second = await start();
    assert.equal(host(second), 'v20.example.com');
    assert.match(second.refused.get(KEY)?.reason ?? '', /older than revision 20/);
    // The owner's spoke writes the same revision again (a repair): accepted, nothing held any more.
    await put(second, record('20', 'v20.example.com'));
    assert.equal(second.refused.has(KEY), false);
    assert.equal(second.held.size, 0);
    await second.held.flushed();
    const heldKv = await new Kvm(jetstream(nc)).open(HELD_BUCKET);
    assert.equal((await heldKv.get(KEY))?.operation ?? 'DEL', 'DEL', 'the held entry is removed from its bucket');
    await put(second, record('30', 'v30.example.com'));
    assert.equal(host(second), 'v30.example.com');
    second.stop();
  });

  it('F6: refuses a record older than its key\'s deletion, also after a restart', async () => {
    const first = await start();
    assert.equal(host(first), 'v30.example.com');
    await state.delete(KEY);
    await waitFor('the deletion seen', async () => first.record(KEY) === undefined);
    await put(first, record('25', 'v25.example.com'));
    assert.equal(first.record(KEY), undefined, 'a deleted key is not brought back by an older record');
    assert.match(first.refused.get(KEY)?.reason ?? '', /older than revision 30 already deleted/);
    await first.held.flushed();
    first.stop();
    const second = await start();
    assert.equal(second.record(KEY), undefined);
    assert.match(second.refused.get(KEY)?.reason ?? '', /already deleted/);
    // The object made again in its cluster: a newer revision.
    await put(second, record('40', 'v40.example.com'));
    assert.equal(host(second), 'v40.example.com');
    second.stop();
  });
});
