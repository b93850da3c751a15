import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newSealingKeyPair, openSealed, sealingPrivateKey, type SecretRecord } from '@ingressfed/schemas';
import { makeTestCa, waitFor, type TestCa } from '../harness/index.js';
import { ingress, ingressClass, tlsSecret } from '../kube/manifests.js';
import { startRealSpokeRig, type SpokeRig } from '../faults/spoke-rig.js';
import type { KubeCluster } from '../harness/index.js';

// The spoke publishes the kubernetes.io/tls Secrets its Ingresses name, and nothing else: the
// certificate as it is, the private key sealed to the hub's key (only the hub's private key opens
// it, and only for that record). A real nats-server and a real kube-apiserver, the spoke as deploy/spoke's ServiceAccount.

const KEY = 'alpha.secret.default.web-tls';

describe('spoke: TLS Secrets', { timeout: 120_000 }, () => {
  const hub = newSealingKeyPair();
  let ca: TestCa;
  let rig: SpokeRig<KubeCluster>;
  const raw = async (key: string): Promise<string | undefined> => {
    const e = await rig.kv.get(key);
    return e && e.operation === 'PUT' ? e.string() : undefined;
  };

  before(async () => {
    ca = makeTestCa('spoke-secrets');
    rig = await startRealSpokeRig({ spoke: { hubSealingKey: hub.publicKeyPem } });
    await rig.kubectl(['create', '-f', '-'], ingressClass());
  });

  after(async () => {
    await rig?.stop();
    ca?.remove();
  });

  it('publishes a named TLS Secret with its key sealed to the hub, for that record only', async () => {
    const site = ca.server('web', ['web.example.test']);
    await rig.kubectl(['create', '-f', '-'], tlsSecret('web-tls', site.cert, site.key));
    await rig.kubectl(['create', '-f', '-'], ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }], { tls: [{ hosts: ['web.example.test'], secretName: 'web-tls' }] }));
    const got = await waitFor('the secret record', () => rig.entry<SecretRecord>(KEY), { timeoutMs: 10_000 });
    assert.equal(got.value.spec.certificate, site.cert);
    const opened = openSealed(got.value.spec.key, [sealingPrivateKey(hub.privateKeyPem)], { cluster: 'alpha', namespace: 'default', name: 'web-tls' });
    assert.equal(opened.toString('utf8'), site.key);
    const stored = await raw(KEY);
    const keyBody = site.key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    assert.ok(stored && !stored.includes(keyBody.slice(0, 32)), 'the private key is not in the bucket in clear');
    assert.throws(() => openSealed(got.value.spec.key, [sealingPrivateKey(hub.privateKeyPem)], { cluster: 'beta', namespace: 'default', name: 'web-tls' }), /sealed for another record/);
  });

  it('publishes no Secret an Ingress does not name, and none of another type', async () => {
    const other = ca.server('other', ['other.example.test']);
    await rig.kubectl(['create', '-f', '-'], tlsSecret('unnamed-tls', other.cert, other.key));
    await rig.kubectl(['create', '-f', '-'], tlsSecret('opaque', other.cert, other.key, { type: 'Opaque' }));
    await rig.kubectl(['create', '-f', '-'], ingress('opaque-user', [{ host: 'o.example.test', paths: [{ path: '/', service: 'web' }] }], { tls: [{ hosts: ['o.example.test'], secretName: 'opaque' }] }));
    await waitFor('the ingress published', async () => (await rig.entry('alpha.ingress.default.opaque-user')) !== undefined, { timeoutMs: 10_000 });
    await rig.spoke.idle();
    assert.equal(await raw('alpha.secret.default.unnamed-tls'), undefined);
    assert.equal(await raw('alpha.secret.default.opaque'), undefined);
    assert.equal(rig.spoke.cacheSizes().secrets, 2, 'the spoke lists TLS Secrets only (web-tls, unnamed-tls)');
  });

  it('follows a renewed Secret, rewrites nothing while it does not change, and deletes the record with its last Ingress', async () => {
    const before = await waitFor('the secret record', () => rig.entry<SecretRecord>(KEY), { timeoutMs: 10_000 });
    // An unrelated change: the record stays as it was (sealing is not redone).
    await rig.kubectl(['create', '-f', '-'], ingress('plain', [{ host: 'plain.example.test', paths: [{ path: '/', service: 'web' }] }]));
    await waitFor('plain published', async () => (await rig.entry('alpha.ingress.default.plain')) !== undefined, { timeoutMs: 10_000 });
    await rig.spoke.idle();
    assert.equal((await rig.entry(KEY))?.revision, before.revision, 'not written again');
    // Renewed: a new certificate and key.
    const renewed = ca.server('web-renewed', ['web.example.test']);
    await rig.kubectl(['replace', '-f', '-'], tlsSecret('web-tls', renewed.cert, renewed.key));
    const after = await waitFor('the renewed record', async () => {
      const e = await rig.entry<SecretRecord>(KEY);
      return e && e.value.spec.certificate === renewed.cert ? e : undefined;
    }, { timeoutMs: 10_000 });
    assert.equal(openSealed(after.value.spec.key, [sealingPrivateKey(hub.privateKeyPem)], { cluster: 'alpha', namespace: 'default', name: 'web-tls' }).toString(), renewed.key);
    // The last Ingress naming it goes: so does the record.
    await rig.kubectl(['delete', 'ingress', 'web']);
    await waitFor('the secret record deleted', async () => (await raw(KEY)) === undefined, { timeoutMs: 10_000 });
  });
});

describe('spoke: without the hub\'s sealing key', { timeout: 60_000 }, () => {
  let rig: SpokeRig<KubeCluster>;
  after(async () => {
    await rig?.stop();
  });

  it('reads no Secret at all', async () => {
    rig = await startRealSpokeRig();
    assert.equal(rig.spoke.cacheSizes().secrets, undefined, 'no Secret informer');
    assert.ok(rig.logs.some((l) => /no hub sealing key: TLS Secrets are neither read nor published/.test(l.msg)));
  });
});
