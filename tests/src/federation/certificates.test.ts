import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildHubApi, type HubApi } from '@ingressfed/hub';
import { newSealingKeyPair } from '@ingressfed/schemas';
import { makeTestCa, waitFor, type TestCa } from '../harness/index.js';
import { ingress, ingressClass, tlsSecret } from '../kube/manifests.js';
import { startSpokeRig, type SpokeRig } from '../faults/spoke-rig.js';

// The hub's view of the clusters' TLS certificates: each Secret's key opened with the hub's sealing
// key and checked against its certificate, every Ingress TLS entry matched with its Secret, and what
// cannot be served said with its reason (the API, the CLI's table, the expiry metric). A spoke and a
// hub on a real nats-server; the Kubernetes API stand-in.

const TOKEN = 'certificates-token-0123456789';

interface View {
  cluster: string; namespace: string; name: string; state: string; problem: string | null; subject: string | null; issuer: string | null;
  dnsNames: string[]; notAfter: string | null; expiresInDays: number | null; expiringSoon: boolean;
  serves: string[];
  usedBy: Array<{ ingress: string; hosts: string[]; refused: Array<{ host: string; reason: string }> }>;
}

describe('hub: TLS certificates', { timeout: 120_000 }, () => {
  const sealing = newSealingKeyPair();
  let ca: TestCa;
  let rig: SpokeRig;
  let api: HubApi;
  const get = async (query = ''): Promise<View[]> => {
    const r = await api.inject({ method: 'GET', url: `/api/v1/certificates${query}`, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.statusCode, 200, r.body);
    return (r.json() as { items: View[] }).items;
  };
  const byName = async (name: string): Promise<View | undefined> => (await get()).find((v) => v.name === name);

  before(async () => {
    ca = makeTestCa('hub-certs');
    rig = await startSpokeRig({ spoke: { hubSealingKey: sealing.publicKeyPem }, hub: { sealingKeys: [sealing.privateKeyPem] } });
    api = await buildHubApi(rig.hub as NonNullable<SpokeRig['hub']>, [{ name: 'ops', token: TOKEN, role: 'read' }]);
    const web = ca.site(['web.example.test']);
    const other = ca.site(['other.example.test']);
    await rig.kubectl(['create', '-f', '-'], `---\n${[
      ingressClass(),
      tlsSecret('web-tls', web.cert, web.key),
      tlsSecret('bad-key', web.cert, other.key),
      tlsSecret('garbage', 'not a certificate', web.key),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }, { host: 'also.example.test', paths: [{ path: '/', service: 'web' }] }],
        { tls: [{ hosts: ['web.example.test', 'also.example.test'], secretName: 'web-tls' }] }),
      ingress('mismatch', [{ host: 'web.example.test', paths: [{ path: '/m', service: 'web' }] }], { tls: [{ hosts: ['web.example.test'], secretName: 'bad-key' }] }),
      ingress('junk', [{ host: 'junk.example.test', paths: [{ path: '/', service: 'web' }] }], { tls: [{ hosts: ['junk.example.test'], secretName: 'garbage' }] }),
      ingress('absent', [{ host: 'absent.example.test', paths: [{ path: '/', service: 'web' }] }], { tls: [{ hosts: ['absent.example.test'], secretName: 'no-such-secret' }] }),
      // B12: a Secret of another namespace cannot be named (an Ingress names Secrets of its own namespace only).
      `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}}`,
      tlsSecret('elsewhere', web.cert, web.key, { namespace: 'other' }),
      ingress('cross-ns', [{ host: 'x.example.test', paths: [{ path: '/', service: 'web' }] }], { tls: [{ hosts: ['x.example.test'], secretName: 'elsewhere' }] }),
    ].join('\n---\n')}\n`);
    await waitFor('every certificate judged', async () => (await get()).length === 5, { timeoutMs: 15_000 });
  });

  after(async () => {
    await api?.close();
    await rig?.stop();
    ca?.remove();
  });

  it('opens a sealed key, checks it against its certificate, and shows subject, issuer, names, expiry and who uses it', async () => {
    const v = await byName('web-tls');
    assert.ok(v);
    assert.equal(v.state, 'valid', v.problem ?? '');
    assert.equal(v.problem, null);
    assert.equal(v.cluster, 'alpha');
    assert.deepEqual(v.dnsNames, ['web.example.test']);
    assert.match(v.subject ?? '', /CN=web\.example\.test/);
    assert.match(v.issuer ?? '', /ingressfed test CA hub-certs/);
    // The test CA issues for one day: expiring within the 14-day warning.
    assert.equal(v.expiresInDays, 0);
    assert.equal(v.expiringSoon, true);
    assert.deepEqual(v.serves, ['web.example.test']);
    assert.equal(v.usedBy.length, 1);
    assert.equal(v.usedBy[0]?.ingress, 'default/web');
    assert.deepEqual(v.usedBy[0]?.refused.map((r) => r.host), ['also.example.test']);
    assert.match(v.usedBy[0]?.refused[0]?.reason ?? '', /does not cover also\.example\.test/);
  });

  it('says why a certificate cannot be served: a key that does not match, a tls.crt that is no certificate, a Secret not published', async () => {
    const bad = await byName('bad-key');
    assert.match(bad?.problem ?? '', /does not match/);
    assert.equal(bad?.state, 'invalid');
    assert.deepEqual(bad?.serves, []);
    // Its Ingress's host is told why it gets no certificate from it.
    assert.match(bad?.usedBy[0]?.refused[0]?.reason ?? '', /bad-key: tls\.key does not match/);
    assert.match((await byName('garbage'))?.problem ?? '', /no PEM certificate/);
    const absent = await byName('no-such-secret');
    assert.equal(absent?.state, 'missing');
    assert.deepEqual(absent?.usedBy.map((u) => u.ingress), ['default/absent']);
  });

  it('tells each Ingress\'s owner which of its TLS hosts get no certificate and why: a Degraded condition (TlsRefused) and a Warning Event', async () => {
    const tlsEvent = (name: string): Promise<string> => waitFor(`the TlsRefused event on ${name}`, async () => (await rig.events(name)).find((e) => e.reason === 'TlsRefused' && e.type === 'Warning')?.message, { timeoutMs: 15_000 });
    assert.match(await tlsEvent('web'), /no certificate for also\.example\.test: the certificate of Secret default\/web-tls does not cover also\.example\.test/);
    assert.doesNotMatch(await tlsEvent('web'), /no certificate for web\.example\.test/, 'the covered host is not refused');
    assert.match(await tlsEvent('mismatch'), /Secret default\/bad-key: tls\.key does not match/);
    assert.match(await tlsEvent('absent'), /Secret default\/no-such-secret is not published/);
    // web's also.example.test, mismatch's web.example.test, and the hosts of junk, absent and cross-ns: five refused, all alpha's.
    const metrics = await rig.hub?.metrics.registry.metrics() ?? '';
    assert.match(metrics, /^ingressfed_tls_refused_hosts\{cluster="alpha"\} 5$/m);
  });

  it('B12: a Secret of another namespace, or another cluster\'s sealed key copied into a record of its own, is refused', async () => {
    const crossNs = (await get()).filter((v) => v.name === 'elsewhere');
    assert.deepEqual(crossNs.map((v) => [v.namespace, v.state]), [['default', 'missing']], 'named from default: missing there; other/elsewhere is not published');
    assert.equal(await rig.entry('alpha.secret.other.elsewhere'), undefined);
    // beta (any cluster with write access to its own keys) copies alpha's record, sealed key and all.
    const alpha = await rig.entry<Record<string, unknown>>('alpha.secret.default.web-tls');
    assert.ok(alpha);
    await rig.kv.put('beta.secret.default.web-tls', JSON.stringify({ ...alpha.value, cluster: 'beta' }));
    const stolen = await waitFor('beta\'s copy judged', async () => (await get()).find((v) => v.cluster === 'beta'), { timeoutMs: 10_000 });
    assert.equal(stolen.state, 'invalid');
    assert.match(stolen.problem ?? '', /sealed for another record/);
    await rig.kv.delete('beta.secret.default.web-tls');
  });

  it('lists those expiring within a number of days, and exports each one\'s expiry as a metric', async () => {
    assert.deepEqual((await get('?expiringWithinDays=2')).map((v) => v.name).sort(), ['bad-key', 'web-tls']);
    assert.deepEqual(await get('?expiringWithinDays=0'), []);
    const metrics = await rig.hub?.metrics.registry.metrics() ?? '';
    const m = /^ingressfed_certificate_expiry_seconds\{cluster="alpha",namespace="default",secret="web-tls"\} (-?\d+)$/m.exec(metrics);
    assert.ok(m, 'the expiry gauge of web-tls');
    assert.ok(Number(m[1]) > 0 && Number(m[1]) <= 86_400, `expires in ${m[1]} s`);
    const bad = await api.inject({ method: 'GET', url: '/api/v1/certificates?expiringWithinDays=-1', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(bad.statusCode, 400);
  });
});
