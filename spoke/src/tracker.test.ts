import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1Node, V1Service } from '@kubernetes/client-node';
import { seededRandom as rng } from '@ingressfed/schemas/testing';
import { RecordTracker, publishOrder } from './tracker.js';
import { desiredRecords, type ClusterObjects } from './translate.js';

// The tracker against the full translation, over random sequences of object changes.

const ctx = { cluster: 'a', epoch: 'e1' };
const SERVICES = ['s0', 's1', 's2', 's3', 's4'];
let rv = 1;
const meta = (name: string, ns = 'default', extra: Record<string, unknown> = {}) => ({ name, namespace: ns, uid: `uid-${ns}-${name}`, resourceVersion: String(rv++), creationTimestamp: new Date('2026-01-01T00:00:00Z'), ...extra });

function randomObjects(r: () => number) {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  return {
    ingress: (name: string): V1Ingress => ({
      metadata: meta(name, pick(['default', 'other'])),
      spec: {
        ...(r() < 0.7 ? { ingressClassName: pick(['ingressfed', 'nginx', 'missing']) } : {}),
        ...(r() < 0.2 ? { defaultBackend: { service: { name: pick(SERVICES), port: { number: 80 } } } } : {}),
        rules: Array.from({ length: Math.floor(r() * 3) }, () => ({
          host: 'a.example.com',
          http: { paths: [{ path: pick(['/', '/a']), pathType: 'Prefix', backend: { service: { name: pick(SERVICES), port: { number: 80 } } } }] },
        })),
      },
    }),
    service: (name: string, ns: string): V1Service => ({
      metadata: meta(name, ns, r() < 0.2 ? { annotations: { 'ingressfed.io/endpoint-mode': 'nodeport' } } : {}),
      spec: { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }] },
    }),
    slice: (name: string, ns: string): V1EndpointSlice => ({
      metadata: meta(name, ns, { labels: { 'kubernetes.io/service-name': pick(SERVICES) } }),
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: Math.floor(r() * 3) }, (_, i) => ({ addresses: [`10.0.${Math.floor(r() * 4)}.${i}`], conditions: { ready: r() < 0.8 } })),
    }),
    classes: (): V1IngressClass[] => [
      { metadata: meta('ingressfed', undefined, { namespace: undefined, annotations: {
        ...(r() < 0.6 ? { 'ingressclass.kubernetes.io/is-default-class': 'true' } : {}),
        ...(r() < 0.4 ? { 'ingressfed.io/default-backend': `default/${pick(SERVICES)}:80` } : {}),
      } }), spec: { controller: pick(['ingressfed.io/hub', 'ingressfed.io/hub', 'k8s.io/other']) } },
      ...(r() < 0.5 ? [{ metadata: meta('nginx', undefined, { namespace: undefined }), spec: { controller: 'k8s.io/ingress-nginx' } }] : []),
    ],
    nodes: (): V1Node[] => Array.from({ length: Math.floor(r() * 3) }, (_, i) => ({
      metadata: meta(`n${i}`, undefined, { namespace: undefined }),
      status: { addresses: [{ type: 'InternalIP', address: `192.168.0.${i + Math.floor(r() * 3)}` }] },
    })),
  };
}

function contents(m: Map<string, { content: string }>): Map<string, string> {
  return new Map([...m].map(([k, v]) => [k, v.content]));
}

describe('spoke record tracker', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`equals the full translation after every change (seed ${seed}, 300 changes)`, () => {
      const r = rng(seed);
      const make = randomObjects(r);
      const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
      const state = { ingresses: new Map<string, V1Ingress>(), services: new Map<string, V1Service>(), slices: new Map<string, V1EndpointSlice>() };
      let objs: ClusterObjects = { ingressClasses: make.classes(), ingresses: [], services: [], endpointSlices: [], nodes: make.nodes() };
      const tracker = new RecordTracker(ctx);
      tracker.reset(objs);
      tracker.take(0, '1');
      let kinds = new Set<string>();
      for (let step = 0; step < 300; step++) {
        const kind = pick(['ingress', 'ingress', 'service', 'slice', 'slice', 'classes', 'nodes', 'reset']);
        const gone = r() < 0.2;
        const ns = pick(['default', 'other']);
        if (kind === 'ingress') {
          const obj = make.ingress(pick(['i0', 'i1', 'i2', 'i3']));
          const k = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
          const old = state.ingresses.get(k);
          if (gone && old) state.ingresses.delete(k);
          else state.ingresses.set(k, obj);
          tracker.note('ingress', gone && old ? old : obj, gone && old !== undefined);
        } else if (kind === 'service') {
          const obj = make.service(pick(SERVICES), ns);
          const k = `${ns}/${obj.metadata?.name}`;
          if (gone) state.services.delete(k);
          else state.services.set(k, obj);
          tracker.note('service', obj, gone);
        } else if (kind === 'slice') {
          const obj = make.slice(pick(['e0', 'e1', 'e2', 'e3', 'e4', 'e5']), ns);
          const k = `${ns}/${obj.metadata?.name}`;
          if (gone) state.slices.delete(k);
          else state.slices.set(k, obj);
          tracker.note('endpointslice', obj, gone);
        } else if (kind === 'classes') {
          objs = { ...objs, ingressClasses: make.classes() };
          tracker.setClasses(objs.ingressClasses);
        } else if (kind === 'nodes') {
          objs = { ...objs, nodes: make.nodes() };
          tracker.setNodes(objs.nodes ?? []);
        }
        objs = { ...objs, ingresses: [...state.ingresses.values()], services: [...state.services.values()], endpointSlices: [...state.slices.values()] };
        if (kind === 'reset') tracker.reset(objs);
        const changed = tracker.take(step, '1');
        const want = new Map(desiredRecords(objs, { ...ctx, now: step, revision: '1' }).map((d) => [d.key, d.content]));
        assert.deepEqual(contents(tracker.records), want, `step ${step} (${kind})`);
        for (const [k, rec] of changed) assert.equal(rec?.content, want.get(k), `change of ${k} at step ${step}`);
        for (const k of want.keys()) kinds.add(k.split('.')[1] ?? '');
      }
      assert.deepEqual([...kinds].sort(), ['endpoints', 'ingress', 'ingressclass', 'service'], 'every kind of record was exercised');
      kinds = new Set();
    });
  }

  it('answers only the records a change bears on', () => {
    const tracker = new RecordTracker(ctx);
    const services = SERVICES.map((s): V1Service => ({ metadata: meta(s), spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } }));
    const ingresses = SERVICES.map((s, i): V1Ingress => ({ metadata: meta(`i${i}`), spec: { ingressClassName: 'ingressfed', rules: [{ host: 'h.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: s, port: { number: 80 } } } }] } }] } }));
    const classes: V1IngressClass[] = [{ metadata: meta('ingressfed', undefined, { namespace: undefined }), spec: { controller: 'ingressfed.io/hub' } }];
    tracker.reset({ ingressClasses: classes, ingresses, services, endpointSlices: [] });
    assert.equal(tracker.take(0, '1').size, 1 + 5 + 5 + 5);
    const slice: V1EndpointSlice = { metadata: meta('x', 'default', { labels: { 'kubernetes.io/service-name': 's2' } }), addressType: 'IPv4', ports: [{ port: 8080 }], endpoints: [{ addresses: ['10.1.1.1'] }] };
    tracker.note('endpointslice', slice, false);
    assert.deepEqual([...tracker.take(1, '1').keys()], ['a.endpoints.default.s2']);
    assert.equal(tracker.take(2, '1').size, 0, 'nothing noted, nothing changed');
  });
});

describe('publish order', () => {
  it('writes what an Ingress names before it, deletes an Ingress before what it named', () => {
    const keys = ['a.ingress.default.web', 'a.service.default.web', 'a.secret.default.tls', 'a.ingress.default.old', 'a.endpoints.default.gone', 'a.endpoints.default.web'];
    const present = (k: string): boolean => !k.endsWith('.old') && !k.endsWith('.gone');
    assert.deepEqual(publishOrder(keys, present), [
      'a.ingress.default.old', 'a.service.default.web', 'a.secret.default.tls', 'a.endpoints.default.web', 'a.ingress.default.web', 'a.endpoints.default.gone',
    ]);
  });
});
