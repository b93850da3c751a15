import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpoints, ingress, ingressClass, service, snapshot } from './fixtures.js';
import { mergeClusters, parseFailover } from './merge.js';

describe('merge: clusters into one federated model', () => {
  it('makes one backend of the same namespace/name/port in two clusters, with both clusters\' endpoints', () => {
    const m = mergeClusters([
      snapshot('b', 'zb', { ingresses: [ingress('b', 'web', [{ host: 'w.example.com', service: 'web' }])], services: [service('b', 'web')], endpoints: [endpoints('b', 'web', ['10.2.0.1'])] }),
      snapshot('a', 'za', { ingresses: [ingress('a', 'web', [{ host: 'w.example.com', service: 'web' }])], services: [service('a', 'web')], endpoints: [endpoints('a', 'web', ['10.1.0.1'])] }),
    ]);
    assert.equal(m.routes.length, 1);
    assert.deepEqual(m.routes[0]?.sources.map((s) => s.cluster), ['a', 'b']);
    assert.deepEqual(m.backends[0]?.endpoints.map((e) => `${e.cluster}/${e.zone}/${e.address}:${e.port}`), ['a/za/10.1.0.1:8080', 'b/zb/10.2.0.1:8080']);
    assert.equal(m.conflicts.length, 0);
  });

  it('gives a conflict to the oldest Ingress, then cluster name, and marks the others Conflicted', () => {
    const m = mergeClusters([
      snapshot('a', 'za', { ingresses: [ingress('a', 'young', [{ host: 'c.example.com', service: 'x' }], { created: '2026-02-01T00:00:00Z' })] }),
      snapshot('b', 'zb', { ingresses: [ingress('b', 'old', [{ host: 'c.example.com', service: 'y' }], { created: '2026-01-01T00:00:00Z' })] }),
    ]);
    assert.equal(m.routes[0]?.backend.service, 'y');
    assert.equal(m.conflicts[0]?.winner.name, 'old');
    assert.deepEqual(m.conflicts[0]?.losers.map((l) => l.name), ['young']);
    assert.equal(m.ingresses.get('a/default/young')?.state, 'conflicted');
    assert.equal(m.ingresses.get('b/default/old')?.state, 'accepted');
    const tie = mergeClusters([
      snapshot('b', 'zb', { ingresses: [ingress('b', 'i', [{ host: 'c.example.com', service: 'y' }])] }),
      snapshot('a', 'za', { ingresses: [ingress('a', 'i', [{ host: 'c.example.com', service: 'x' }])] }),
    ]);
    assert.equal(tie.routes[0]?.backend.service, 'x', 'same age: cluster a wins over b');
  });

  it('refuses invalid hosts, paths and annotations with field-specific reasons, without touching other Ingresses', () => {
    const m = mergeClusters([snapshot('a', 'za', { ingresses: [
      ingress('a', 'bad', [{ host: 'A.example.com', service: 'x' }, { host: 'ok.example.com', path: '/a b', service: 'x' }], { annotations: { 'ingressfed.io/snippet': 'x' } }),
      ingress('a', 'good', [{ host: 'g.example.com', service: 'x' }]),
    ] })]);
    const bad = m.ingresses.get('a/default/bad');
    assert.equal(bad?.state, 'invalid');
    const reasons = bad && bad.state === 'invalid' ? bad.reasons : [];
    assert.ok(reasons.some((r) => /^metadata\.annotations: unsupported annotation 'ingressfed\.io\/snippet'/.test(r)));
    assert.ok(reasons.some((r) => /^spec\.rules\[0\]\.host: "A\.example\.com" must be lowercase/.test(r)));
    assert.ok(reasons.some((r) => /^spec\.rules\[1\]\.http\.paths\[0\]\.path: /.test(r)));
    assert.deepEqual(m.routes.map((r) => r.host), ['g.example.com']);
  });

  it('normalizes Prefix paths and treats ImplementationSpecific as Prefix', () => {
    const m = mergeClusters([snapshot('a', 'za', { ingresses: [ingress('a', 'i', [
      { host: 'h.example.com', path: '/foo/', service: 'x' }, { host: 'i.example.com', path: '/bar', pathType: 'ImplementationSpecific', service: 'x' },
      { host: 'j.example.com', path: '/exact/', pathType: 'Exact', service: 'x' }])] })]);
    assert.deepEqual(m.routes.map((r) => `${r.host} ${r.pathType} ${r.path}`), ['h.example.com Prefix /foo', 'i.example.com Prefix /bar', 'j.example.com Exact /exact/']);
  });

  it('judges classes from the cluster\'s own IngressClass records', () => {
    const twoDefaults = snapshot('a', 'za', { ingressClasses: [ingressClass('a'), ingressClass('a', 'second')], ingresses: [ingress('a', 'n', [{ host: 'n.example.com', service: 'x' }], { className: null })] });
    const st = mergeClusters([twoDefaults]).ingresses.get('a/default/n');
    assert.equal(st?.state, 'invalid');
    assert.match(st && st.state === 'invalid' ? st.reasons[0] ?? '' : '', /2 default IngressClasses \(ingressfed, second\)/);
    const other = snapshot('a', 'za', { ingressClasses: [{ ...ingressClass('a', 'nginx', false), spec: { controller: 'k8s.io/ingress-nginx', isDefault: false } }],
      ingresses: [ingress('a', 'o', [{ host: 'o.example.com', service: 'x' }], { className: 'nginx' })] });
    assert.equal(mergeClusters([other]).ingresses.get('a/default/o')?.state, 'ignored');
  });

  it('prefers the oldest spec.defaultBackend over a class-level default backend', () => {
    const cls = ingressClass('a', 'ingressfed', true, { 'ingressfed.io/default-backend': 'default/fallback:80' });
    const m1 = mergeClusters([snapshot('a', 'za', { ingressClasses: [cls] })]);
    assert.equal(m1.defaultRoute?.backend.service, 'fallback');
    const m2 = mergeClusters([snapshot('a', 'za', { ingressClasses: [cls], ingresses: [ingress('a', 'd', [], { defaultBackend: 'mine' })] })]);
    assert.equal(m2.defaultRoute?.backend.service, 'mine');
    const bad = mergeClusters([snapshot('a', 'za', { ingressClasses: [ingressClass('a', 'ingressfed', true, { 'ingressfed.io/default-backend': 'nope' })] })]);
    assert.match(bad.classProblems.get('a/ingressfed') ?? '', /not namespace\/service:port/);
  });

  it('parses the failover annotation', () => {
    assert.deepEqual(parseFailover(undefined), { kind: 'zone' });
    assert.deepEqual(parseFailover('none'), { kind: 'none' });
    assert.deepEqual(parseFailover('b, a'), { kind: 'clusters', order: ['b', 'a'] });
    assert.equal(typeof parseFailover('a,a'), 'string');
    assert.equal(typeof parseFailover('A;b'), 'string');
  });
});
