import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { IngressRecord } from '@ingressfed/schemas';
import { endpoints, ingress, service, snapshot } from '../model/fixtures.js';
import { mergeClusters } from '../model/merge.js';
import { planTls, type RefusedCertificate, type ServableCertificate } from './tls.js';

// Self-signed certificates made by openssl for this test.
const dir = mkdtempSync(join(tmpdir(), 'ingressfed-tls-plan-'));
let n = 0;
const leafFor = (names: string[]): X509Certificate => {
  const name = `c${++n}`;
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${names[0]}`,
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-addext', `subjectAltName=${names.map((s) => `DNS:${s}`).join(',')}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  return new X509Certificate(readFileSync(join(dir, `${name}.crt`)));
};
const servable = (id: string, names: string[]): ServableCertificate => {
  const leaf = leafFor(names);
  return { id, leaf, fingerprint: leaf.fingerprint256 };
};

const withTls = (ing: IngressRecord, tls: Array<{ hosts: string[]; secretName: string | null }>): IngressRecord => ({ ...ing, spec: { ...ing.spec, tls } });

describe('TLS plan: which certificate each host is served with', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));
  const shop = servable('alpha/default/shop-tls', ['shop.example.test']);
  const shopBeta = servable('beta/default/shop-tls', ['shop.example.test']);
  const wild = servable('alpha/default/wild-tls', ['*.apps.example.test']);

  const fleet = (alphaTls: IngressRecord, betaTls: IngressRecord) => {
    const clusters = [
      snapshot('alpha', 'zone-a', { ingresses: [alphaTls], services: [service('alpha', 'web')], endpoints: [endpoints('alpha', 'web', ['10.0.0.1'])] }),
      snapshot('beta', 'zone-b', { ingresses: [betaTls], services: [service('beta', 'web')], endpoints: [endpoints('beta', 'web', ['10.0.1.1'])] }),
    ];
    return { model: mergeClusters(clusters), ingresses: [alphaTls, betaTls] };
  };

  it('serves each host with the certificate of an Ingress that routes it, when the certificate covers it', () => {
    const a = withTls(ingress('alpha', 'shop', [{ host: 'shop.example.test', service: 'web' }, { host: 'x.apps.example.test', service: 'web' }]),
      [{ hosts: ['shop.example.test'], secretName: 'shop-tls' }, { hosts: ['x.apps.example.test'], secretName: 'wild-tls' }]);
    const b = ingress('beta', 'other', [{ host: 'other.example.test', service: 'web' }]);
    const { model, ingresses } = fleet(a, b);
    const plan = planTls(model, ingresses, new Map([[shop.id, shop], [wild.id, wild]]));
    assert.deepEqual(plan.hosts, [
      { host: 'shop.example.test', certificate: shop.id, ingress: 'alpha/default/shop', redirect: true },
      { host: 'x.apps.example.test', certificate: wild.id, ingress: 'alpha/default/shop', redirect: true },
    ]);
    assert.deepEqual(plan.refusals, []);
  });

  it('refuses, host by host, a missing or invalid Secret, a certificate that does not cover the host, and a host the Ingress does not route', () => {
    const bad: RefusedCertificate = { id: 'alpha/default/bad-tls', problem: 'tls.key does not match the certificate in tls.crt' };
    const a = withTls(ingress('alpha', 'shop', [{ host: 'shop.example.test', service: 'web' }, { host: 'b.example.test', service: 'web' }, { host: 'c.example.test', service: 'web' }]), [
      { hosts: ['shop.example.test', 'b.example.test'], secretName: 'shop-tls' },
      { hosts: ['c.example.test'], secretName: 'bad-tls' },
      { hosts: ['nowhere.example.test'], secretName: 'absent' },
    ]);
    const { model, ingresses } = fleet(a, ingress('beta', 'other', [{ host: 'other.example.test', service: 'web' }]));
    const plan = planTls(model, ingresses, new Map<string, ServableCertificate | RefusedCertificate>([[shop.id, shop], [bad.id, bad]]));
    assert.deepEqual(plan.hosts.map((h) => h.host), ['shop.example.test']);
    const why = new Map(plan.refusals.map((r) => [r.host, r.reason]));
    assert.match(why.get('b.example.test') ?? '', /does not cover b\.example\.test/);
    assert.match(why.get('c.example.test') ?? '', /bad-tls: tls\.key does not match/);
    assert.match(why.get('nowhere.example.test') ?? '', /serves no route of host nowhere\.example\.test/);
    assert.equal(plan.refusals.length, 3, 'each host refused once');
  });

  it('serves a host two clusters serve with different certificates with the oldest Ingress\'s, and tells the other; the same certificate is no conflict', () => {
    const a = withTls(ingress('alpha', 'shop', [{ host: 'shop.example.test', service: 'web' }], { created: '2026-01-02T00:00:00Z' }), [{ hosts: ['shop.example.test'], secretName: 'shop-tls' }]);
    const b = withTls(ingress('beta', 'shop', [{ host: 'shop.example.test', service: 'web' }], { created: '2026-01-01T00:00:00Z' }), [{ hosts: ['shop.example.test'], secretName: 'shop-tls' }]);
    const { model, ingresses } = fleet(a, b);
    const plan = planTls(model, ingresses, new Map([[shop.id, shop], [shopBeta.id, shopBeta]]));
    assert.deepEqual(plan.hosts, [{ host: 'shop.example.test', certificate: shopBeta.id, ingress: 'beta/default/shop', redirect: true }], 'beta\'s Ingress is older');
    assert.equal(plan.refusals.length, 1);
    assert.equal(plan.refusals[0]?.ingress, 'alpha/default/shop');
    assert.match(plan.refusals[0]?.reason ?? '', /served with the certificate of beta\/default\/shop/);
    const same = planTls(model, ingresses, new Map([[shop.id, shop], [shopBeta.id, { ...shop, id: shopBeta.id }]]));
    assert.deepEqual(same.refusals, [], 'identical certificates: nothing to tell');
  });
});
