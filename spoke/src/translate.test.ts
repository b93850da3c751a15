import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1Service } from '@kubernetes/client-node';
import { validators } from '@ingressfed/schemas';
import { desiredRecords, endpointsRecord, isInClass } from './translate.js';

const ctx = { cluster: 'a', epoch: 'e1', now: 5, revision: '9' };
const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '7', creationTimestamp: new Date('2026-01-01T00:00:00Z'), ...extra });
const cls = (name: string, controller: string, isDefault = false): V1IngressClass => ({
  metadata: { name, uid: `uid-${name}`, resourceVersion: '1', annotations: isDefault ? { 'ingressclass.kubernetes.io/is-default-class': 'true' } : {} },
  spec: { controller },
});
const ing = (name: string, className?: string, annotations: Record<string, string> = {}): V1Ingress => ({
  metadata: meta(name, { annotations }),
  spec: {
    ...(className ? { ingressClassName: className } : {}),
    rules: [{ host: 'a.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }],
  },
});
const svc = (name: string): V1Service => ({ metadata: meta(name), spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } });
const slice = (name: string, service: string, addrs: Array<[string, boolean?, boolean?]>, rv = '9'): V1EndpointSlice => ({
  metadata: meta(name, { labels: { 'kubernetes.io/service-name': service }, resourceVersion: rv }),
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: addrs.map(([a, ready, terminating]) => ({ addresses: [a], conditions: { ready, terminating }, zone: 'z1' })),
});

describe('spoke translation: Kubernetes objects to records', () => {
  it('selects Ingresses by class name, legacy annotation, or the single default class', () => {
    const classes = [cls('ingressfed', 'ingressfed.io/hub', true), cls('nginx', 'k8s.io/ingress-nginx')];
    assert.equal(isInClass(ing('a', 'ingressfed'), classes), true);
    assert.equal(isInClass(ing('b', 'nginx'), classes), false);
    assert.equal(isInClass(ing('c', undefined, { 'kubernetes.io/ingress.class': 'ingressfed' }), classes), true);
    assert.equal(isInClass(ing('d'), classes), true, 'no class: the default class is ours');
    assert.equal(isInClass(ing('e'), [...classes, cls('other', 'ingressfed.io/hub', true)]), true, 'two default classes: published for the hub to refuse');
    assert.equal(isInClass(ing('g'), [cls('nginx', 'k8s.io/ingress-nginx', true)]), false, 'the default class is not ours');
    assert.equal(isInClass(ing('f', 'missing'), classes), false);
  });

  it('serves only the class named with --ingress-class when one is given', () => {
    const classes = [cls('ingressfed', 'ingressfed.io/hub', true), cls('ingressfed-internal', 'ingressfed.io/hub')];
    assert.equal(isInClass(ing('a', 'ingressfed-internal'), classes, 'ingressfed-internal'), true);
    assert.equal(isInClass(ing('b', 'ingressfed'), classes, 'ingressfed-internal'), false);
    assert.equal(isInClass(ing('c'), classes, 'ingressfed'), true, 'the default class is ingressfed');
    assert.equal(isInClass(ing('d'), classes, 'ingressfed-internal'), false);
  });

  it('publishes classes, in-class Ingresses and only the Services they reference, all schema-valid', () => {
    const recs = desiredRecords({
      ingressClasses: [cls('ingressfed', 'ingressfed.io/hub')],
      ingresses: [ing('web', 'ingressfed'), ing('other', 'nginx')],
      services: [svc('web'), svc('unrelated')],
      endpointSlices: [slice('web-1', 'web', [['10.0.0.1', true]])],
    }, ctx);
    assert.deepEqual(recs.map((r) => r.key).sort(), ['a.endpoints.default.web', 'a.ingress.default.web', 'a.ingressclass._.ingressfed', 'a.service.default.web']);
    for (const r of recs) assert.ok(validators[r.record.kind].Check(r.record), `${r.key} passes its schema`);
  });

  it('keeps only ingressfed.io/ annotations', () => {
    const [r] = desiredRecords({ ingressClasses: [cls('x', 'ingressfed.io/hub')], ingresses: [ing('web', 'x', { 'ingressfed.io/failover': 'none', 'nginx.ingress.kubernetes.io/snippet': 'x' })], services: [], endpointSlices: [] }, ctx)
      .filter((d) => d.record.kind === 'ingress');
    assert.deepEqual(r?.record.kind === 'ingress' ? r.record.spec.annotations : {}, { 'ingressfed.io/failover': 'none' });
  });

  it('merges EndpointSlices per Service with readiness, terminating and zone, and the newest resourceVersion', () => {
    const rec = endpointsRecord(svc('web'), [
      slice('web-b', 'web', [['10.0.0.2', false, true]], '15'),
      slice('web-a', 'web', [['10.0.0.1', true], ['10.0.0.3']], '12'),
      slice('other', 'other', [['10.9.9.9', true]], '99'),
    ], ctx);
    assert.deepEqual(rec.spec.endpoints.map((e) => [e.address, e.ready, e.serving, e.terminating, e.zone]), [
      ['10.0.0.1', true, true, false, 'z1'],
      ['10.0.0.2', false, false, true, 'z1'],
      ['10.0.0.3', true, true, false, 'z1'],
    ]);
    assert.equal(rec.source.resourceVersion, '15');
  });

  it('judges records unchanged regardless of epoch and observation time', () => {
    const objs = { ingressClasses: [cls('x', 'ingressfed.io/hub')], ingresses: [], services: [], endpointSlices: [] };
    const [a] = desiredRecords(objs, ctx);
    const [b] = desiredRecords(objs, { ...ctx, epoch: 'e2', now: 99 });
    assert.equal(a?.content, b?.content);
  });
});

describe('spoke translation: endpoint modes', () => {
  const node = (name: string, ip: string, ready: boolean, zone?: string) => ({
    metadata: { name, resourceVersion: '20', labels: zone ? { 'topology.kubernetes.io/zone': zone } : {} },
    status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  const npSvc = (annotations: Record<string, string> = {}): V1Service => ({
    metadata: meta('np', { annotations }),
    spec: { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }] },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }, { hostname: 'lb.example.com' }] } },
  });

  it('nodeport: every node\'s InternalIP with the nodePort, ready from the node, zone from its label', () => {
    const rec = endpointsRecord(npSvc(), [], { ...ctx, endpointMode: 'nodeport' }, [node('n2', '10.0.1.2', false, 'z2'), node('n1', '10.0.1.1', true, 'z1')] as never);
    assert.deepEqual(rec.spec.endpoints.map((e) => [e.address, e.ports[0]?.port, e.ports[0]?.name, e.ready, e.zone, e.nodeName]), [
      ['10.0.1.1', 30080, 'http', true, 'z1', 'n1'], ['10.0.1.2', 30080, 'http', false, 'z2', 'n2']]);
    assert.equal(rec.source.resourceVersion, '20');
  });

  it('loadbalancer: the load-balancer IPs with the Service ports (hostnames are not endpoints)', () => {
    const rec = endpointsRecord(npSvc(), [], { ...ctx, endpointMode: 'loadbalancer' });
    assert.deepEqual(rec.spec.endpoints.map((e) => `${e.address}:${e.ports[0]?.port}`), ['192.0.2.10:80']);
  });

  it('lets a Service override the spoke\'s mode by annotation', () => {
    const rec = endpointsRecord(npSvc({ 'ingressfed.io/endpoint-mode': 'loadbalancer' }), [], ctx);
    assert.deepEqual(rec.spec.endpoints.map((e) => e.address), ['192.0.2.10']);
    assert.ok(validators.endpoints.Check(rec));
  });
});
