import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { HELD_BUCKET, STATE_BUCKET, type IngressRecord } from '@ingressfed/schemas';
import { openBucket } from '@ingressfed/schemas/nats';
import { StateIntake } from '@ingressfed/hub';
import { startNats, waitFor, type NatsServer } from '../harness/index.js';

// Purged keys: a purge (a rollup) can make a watch skip the changes before it, leaving the hub with
// records of keys the bucket no longer has. Purges are refused on the state bucket, and the hub's
// periodic key audit drops what a stream purge under its watch left behind.

const N = 300;
const record = (i: number): IngressRecord => ({
  schema: 1, cluster: 'alpha', kind: 'ingress', epoch: 'e', observedAt: 0, revision: '5',
  source: { uid: `u${i}`, resourceVersion: '5', creationTimestamp: '2026-01-01T00:00:00Z' }, namespace: 'default', name: `w${i}`,
  spec: { className: null, annotations: {}, defaultBackend: null, tls: [], rules: [] },
});

describe('faults: purged keys', { timeout: 60_000 }, () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let state: KV;
  let intake: StateIntake;
  const count = (): number => [...intake.ingresses()].length;

  before(async () => {
    nats = await startNats();
    nc = await nats.connectAsHub();
    state = await new Kvm(jetstream(nc)).open(STATE_BUCKET);
    intake = new StateIntake({ onChange: () => undefined, log: () => undefined });
    await intake.start(state, await openBucket(nc, HELD_BUCKET));
    for (let i = 0; i < N; i++) await state.put(`alpha.ingress.default.w${i}`, JSON.stringify(record(i)));
    await waitFor('every record in the intake', async () => count() === N);
  });

  after(async () => {
    intake?.stop();
    await nc?.close();
    await nats?.stop();
  });

  it('refuses a purge of a key in the state bucket, from a spoke and from the hub alike', async () => {
    const spoke = await nats.connectAsSpoke('alpha');
    try {
      const own = await new Kvm(jetstream(spoke)).open(STATE_BUCKET, { allow_direct: true });
      await assert.rejects(own.purge('alpha.ingress.default.w0'), /rollup not permitted/);
    } finally {
      await spoke.close();
    }
    await assert.rejects(state.purge('alpha.ingress.default.w1'), /rollup not permitted/);
    assert.equal(count(), N);
  });

  it('drops, at the next key audit, the records of keys a stream purge removed under the watch', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.purge(`KV_${STATE_BUCKET}`, { filter: `$KV.${STATE_BUCKET}.alpha.ingress.default.>` });
    assert.equal((await state.keys().then(async (it) => { let n = 0; for await (const _ of it) n++; return n; })), 0, 'the bucket has none of them');
    const ghosts = count();
    assert.ok(ghosts > 0, 'the watch did not deliver the purge (else this test shows nothing)');
    assert.equal(await intake.audit(), ghosts);
    assert.equal(count(), 0, 'no ghost left');
    assert.equal(await intake.audit(), 0, 'a second audit finds nothing');
  });
});
