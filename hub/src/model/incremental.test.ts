import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { objectKey, type IngressRecord, type ObjectRecord } from '@ingressfed/schemas';
import { seededRandom as rng } from '@ingressfed/schemas/testing';
import { endpoints, ingress, ingressClass, service, snapshot } from './fixtures.js';
import { EndpointPolicy } from './endpoint-policy.js';
import { HostPolicy } from './host-policy.js';
import { IncrementalMerge } from './incremental.js';
import { mergeClusters } from './merge.js';
import type { ClusterSnapshot, FederatedModel } from './types.js';

// The incremental merge against the full one, over random sequences of record changes that cover
// every dependency: classes, named ports, conflicts and their ties, default backends, endpoints,
// zones and expired clusters.

const CLUSTERS = ['a', 'b', 'c'];
const SERVICES = ['s0', 's1', 's2', 's3'];
const HOSTS = ['', 'x.example.test', 'y.example.test', '*.example.test'];
const PATHS = ['/', '/api', '/api/v1', '/api/'];
const TIMES = ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'];

function randomIngress(r: () => number, cluster: string, name: string): IngressRecord {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const rules = Array.from({ length: 1 + Math.floor(r() * 3) }, () => ({
    host: pick(HOSTS) || undefined, path: pick(PATHS), pathType: pick(['Exact', 'Prefix', 'ImplementationSpecific'] as const), service: pick(SERVICES), port: pick([80, 81]),
  }));
  const annotations: Record<string, string> = {};
  if (r() < 0.2) annotations['ingressfed.io/failover'] = pick(['none', 'zone', 'b,a', 'a,a']);
  if (r() < 0.15) annotations['ingressfed.io/health-check-path'] = pick(['/healthz', 'bad path']);
  const rec = ingress(cluster, name, rules, { created: pick(TIMES), annotations, className: pick(['ingressfed', 'ingressfed', null, 'other', 'missing']), defaultBackend: r() < 0.2 ? pick(SERVICES) : undefined });
  // Some rules name their port instead of numbering it (resolved through the Service record).
  for (const rule of rec.spec.rules) {
    for (const p of rule.paths) if (r() < 0.3 && 'service' in p.backend) p.backend.service.port = { name: pick(['http', 'admin', 'nope']) };
  }
  return rec;
}

function randomRecord(r: () => number): { key: string; record: ObjectRecord | undefined } {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const cluster = pick(CLUSTERS);
  const kind = pick(['ingress', 'ingress', 'ingress', 'service', 'endpoints', 'endpoints', 'ingressclass'] as const);
  const gone = r() < 0.15;
  if (kind === 'ingressclass') {
    const name = pick(['ingressfed', 'other']);
    const rec = name === 'other'
      ? { ...ingressClass(cluster, 'other', r() < 0.5), spec: { controller: 'example.com/other', isDefault: r() < 0.5, annotations: {} } }
      : ingressClass(cluster, 'ingressfed', r() < 0.7, r() < 0.3 ? { 'ingressfed.io/default-backend': pick(['default/s1:80', 'bad']) } : {});
    return { key: objectKey(cluster, 'ingressclass', undefined, name), record: gone ? undefined : rec };
  }
  if (kind === 'ingress') {
    const name = pick(['i0', 'i1', 'i2', 'i3', 'i4', 'i5']);
    return { key: objectKey(cluster, 'ingress', 'default', name), record: gone ? undefined : randomIngress(r, cluster, name) };
  }
  const svc = pick(SERVICES);
  if (kind === 'service') {
    const rec = service(cluster, svc);
    if (r() < 0.5) rec.spec.ports.push({ name: 'admin', port: 81, protocol: 'TCP', targetPort: 9090, nodePort: null });
    return { key: objectKey(cluster, 'service', 'default', svc), record: gone ? undefined : rec };
  }
  const addrs = Array.from({ length: Math.floor(r() * 3) }, () => ({ address: `10.0.${Math.floor(r() * 3)}.${Math.floor(r() * 3)}`, ready: r() < 0.8, zone: r() < 0.3 ? 'zz' : undefined }));
  return { key: objectKey(cluster, 'endpoints', 'default', svc), record: gone ? undefined : endpoints(cluster, svc, addrs) };
}

function snapshotsOf(records: ReadonlyMap<string, ObjectRecord>, zones: Map<string, string>): ClusterSnapshot[] {
  return CLUSTERS.map((c) => {
    const recs = [...records.values()].filter((x) => x.cluster === c);
    const snap = snapshot(c, zones.get(c) ?? 'none', {
      ingressClasses: recs.filter((x) => x.kind === 'ingressclass'),
      ingresses: recs.filter((x) => x.kind === 'ingress'),
      services: recs.filter((x) => x.kind === 'service'),
      endpoints: recs.filter((x) => x.kind === 'endpoints'),
    } as Partial<ClusterSnapshot>);
    return zones.has(c) ? snap : { ...snap, info: undefined };
  });
}

const normal = (m: FederatedModel): unknown => ({
  ...m,
  ingresses: [...m.ingresses].sort(([a], [b]) => (a < b ? -1 : 1)),
  classProblems: [...m.classProblems].sort(([a], [b]) => (a < b ? -1 : 1)),
});

describe('incremental merge', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`equals the full merge after every change of a random sequence (seed ${seed})`, () => {
      const r = rng(seed);
      // Endpoints at 10.0.1.1 are refused (as an edge's address): refusals must match too.
      const policy = new EndpointPolicy({ edgeAddresses: ['10.0.1.1'] });
      // Cluster c may not serve y.example.test, nor b rules without a host and default backends.
      const hosts = new HostPolicy([{ hosts: ['y.example.test'], clusters: ['a', 'b'] }, { hosts: ['*'], clusters: ['a', 'c'] }]);
      const inc = new IncrementalMerge({ endpointPolicy: policy, hostPolicy: hosts });
      const zones = new Map<string, string>();
      let expired = new Set<string>();
      let conflicts = 0;
      let routes = 0;
      for (let step = 0; step < 400; step++) {
        const roll = r();
        if (roll < 0.05) {
          const c = CLUSTERS[Math.floor(r() * 3)] as string;
          const z = ['za', 'zb'][Math.floor(r() * 2)] as string;
          zones.set(c, z);
          inc.setZone(c, z);
        } else if (roll < 0.08) {
          expired = new Set(CLUSTERS.filter(() => r() < 0.3));
          inc.setExpired(expired);
        } else {
          // Sometimes several changes land before the model is read (a burst).
          for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
            const { key, record } = randomRecord(r);
            inc.put(key, record);
          }
        }
        const got = inc.model();
        const want = mergeClusters(snapshotsOf(inc.records, zones), { expired, endpointPolicy: policy, hostPolicy: hosts });
        assert.deepEqual(normal(got), normal(want), `seed ${seed}, step ${step}`);
        conflicts += got.conflicts.length;
        routes += got.routes.length;
      }
      // The sequence exercised what it is meant to.
      assert.ok(routes > 400 && conflicts > 20, `routes ${routes}, conflicts ${conflicts}`);
      // The full recompute (every key touched, in two slices) finds nothing to change.
      const before = inc.model();
      const keys = [...inc.records.keys()];
      for (const k of keys.slice(0, keys.length / 2)) inc.touch(k);
      assert.equal(inc.model(), before, 'half touched: the same model');
      for (const k of keys.slice(keys.length / 2)) inc.touch(k);
      assert.equal(inc.model(), before, 'all touched: the same model');
    });
  }

  it('answers the same model object when nothing changed, and keeps unchanged backends and routes', () => {
    const inc = new IncrementalMerge();
    inc.put(objectKey('a', 'ingressclass', undefined, 'ingressfed'), ingressClass('a'));
    for (const s of ['s0', 's1']) {
      inc.put(objectKey('a', 'ingress', 'default', s), ingress('a', s, [{ host: `${s}.example.test`, service: s }]));
      inc.put(objectKey('a', 'service', 'default', s), service('a', s));
      inc.put(objectKey('a', 'endpoints', 'default', s), endpoints('a', s, ['10.0.0.1']));
    }
    const m1 = inc.model();
    assert.equal(inc.model(), m1);
    inc.put(objectKey('a', 'endpoints', 'default', 's1'), endpoints('a', 's1', ['10.0.0.2']));
    const m2 = inc.model();
    assert.notEqual(m2, m1);
    assert.equal(m2.routes, m1.routes, 'an endpoint change leaves the routes as they were');
    assert.equal(m2.backends[0], m1.backends[0], 'the other backend is the same object');
    assert.notEqual(m2.backends[1], m1.backends[1]);
    assert.equal(m2.ingresses, m1.ingresses);
    // touch() recomputes from the record itself: a record the merge missed (put behind its back) is taken in.
    const key = objectKey('a', 'endpoints', 'default', 's0');
    inc.records.set(key, endpoints('a', 's0', ['10.0.0.9']));
    assert.equal(inc.model(), m2, 'not seen yet');
    inc.touch(key);
    assert.deepEqual(inc.model().backends[0]?.endpoints.map((e) => e.address), ['10.0.0.9']);
  });
});
