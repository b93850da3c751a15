// Benchmark: the spoke's record computation at scale, inside the spoke (no NATS, no API server): a
// cluster of N Ingresses, each with its Service and an EndpointSlice of E endpoints. Times one
// EndpointSlice change (noted and recomputed by the tracker) against a full recomputation of every
// record, which is what each change cost before the tracker. Prints figures and asserts nothing about time.
//   npm run bench:spoke [-- --ingresses 1000 --endpoints 10 --samples 200 --json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1Service } from '@kubernetes/client-node';
import { RecordTracker, desiredRecords } from '@ingressfed/spoke';

const { values } = parseArgs({ options: {
  ingresses: { type: 'string', default: '1000' }, endpoints: { type: 'string', default: '10' }, samples: { type: 'string', default: '200' }, json: { type: 'string' },
} });
const N = Number(values.ingresses);
const E = Number(values.endpoints);
const SAMPLES = Number(values.samples);

let rv = 1;
const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'apps', uid: `uid-${name}`, resourceVersion: String(rv++), creationTimestamp: new Date('2026-01-01T00:00:00Z'), ...extra });
const classes: V1IngressClass[] = [{ metadata: { name: 'ingressfed', uid: 'c', resourceVersion: '1', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'ingressfed.io/hub' } }];
const ingresses: V1Ingress[] = Array.from({ length: N }, (_, i) => ({
  metadata: meta(`app-${i}`),
  spec: { rules: [{ host: `app-${i}.example.test`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: `app-${i}`, port: { number: 80 } } } }] } }] },
}));
const services: V1Service[] = Array.from({ length: N }, (_, i) => ({ metadata: meta(`app-${i}`), spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } }));
const slice = (i: number, shift: number): V1EndpointSlice => ({
  metadata: meta(`app-${i}-x`, { labels: { 'kubernetes.io/service-name': `app-${i}` } }),
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: Array.from({ length: E }, (_, e) => ({ addresses: [`10.${i % 250}.${Math.floor(i / 250)}.${(e + shift) % 250}`], conditions: { ready: true }, zone: 'a' })),
});
const slices = Array.from({ length: N }, (_, i) => slice(i, 0));
const ctx = { cluster: 'c0', epoch: 'bench', ingressClass: undefined, endpointMode: 'pod' as const };

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const tracker = new RecordTracker(ctx);
const t0 = performance.now();
tracker.reset({ ingressClasses: classes, ingresses, services, endpointSlices: slices });
const first = tracker.take(Date.now(), '1');
const resetMs = performance.now() - t0;

const change: number[] = [];
const full: number[] = [];
let changedRecords = 0;
for (let s = 0; s < SAMPLES; s++) {
  const i = (s * 7919) % N;
  const next = slice(i, s + 1);
  slices[i] = next;
  const a = performance.now();
  tracker.note('endpointslice', next, false);
  changedRecords += tracker.take(Date.now(), '1').size;
  change.push(performance.now() - a);
  const b = performance.now();
  desiredRecords({ ingressClasses: classes, ingresses, services, endpointSlices: slices }, { ...ctx, now: Date.now(), revision: '1' });
  full.push(performance.now() - b);
}

const result = {
  ingresses: N, endpointsPerIngress: E, records: first.size, samples: SAMPLES,
  firstComputationMs: Math.round(resetMs),
  oneSliceChangeMs: { p50: +percentile(change, 50).toFixed(3), p99: +percentile(change, 99).toFixed(3) },
  recordsChangedPerChange: changedRecords / SAMPLES,
  fullRecomputationMs: { p50: +percentile(full, 50).toFixed(1), p99: +percentile(full, 99).toFixed(1) },
};
console.log(`spoke at ${N} Ingresses × ${E} endpoints (${result.records} records)`);
console.log(`  first computation of every record: ${result.firstComputationMs} ms`);
console.log(`  one EndpointSlice change: p50 ${result.oneSliceChangeMs.p50} ms, p99 ${result.oneSliceChangeMs.p99} ms (${result.recordsChangedPerChange} record changed each)`);
console.log(`  a full recomputation, for comparison: p50 ${result.fullRecomputationMs.p50} ms, p99 ${result.fullRecomputationMs.p99} ms`);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
