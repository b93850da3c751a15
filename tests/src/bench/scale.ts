// Benchmark: the hub at scale. Real nats-server, redis-server, the local Data Plane API server with
// its HAProxy, and the hub as its own process; spokes are emulated by writing the records a spoke
// writes (validated by the same decoder the hub uses) straight into the state bucket. Prints figures
// and asserts nothing about time.
//   npm run bench:scale [-- --clusters 10 --ingresses 1000 --endpoints 10 --samples 20 --json FILE --cpu-prof DIR --hub-log FILE --hub-node-args 'ARGS']
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { KV } from '@nats-io/kv';
import { EdgeApplier, IncrementalMerge } from '@ingressfed/hub';
import { EndpointPolicy } from '@ingressfed/hub/internal';
import { SCHEMA_VERSION, STATE_BUCKET, decodeStateEntry, heartbeatKey, infoKey, objectKey, type ObjectRecord } from '@ingressfed/schemas';
import { openBucket } from '@ingressfed/schemas/nats';
import { ManagedProcess, freePort, httpRequest, startLocalDataPlane, startNats, startRedis, tempDir, waitFor } from '../harness/index.js';

const { values } = parseArgs({ options: {
  clusters: { type: 'string', default: '10' }, ingresses: { type: 'string', default: '1000' }, endpoints: { type: 'string', default: '10' },
  samples: { type: 'string', default: '20' }, json: { type: 'string' }, 'cpu-prof': { type: 'string' }, 'hub-log': { type: 'string' }, 'hub-node-args': { type: 'string' },
} });
const C = Number(values.clusters);
const N = Number(values.ingresses);
const E = Number(values.endpoints);
const SAMPLES = Number(values.samples);
const LISTENERS = Math.max(E * 2, 40);
const ECHO_PORT = await freePort();
const HUB_BIN = fileURLToPath(new URL('../../../hub/bin/ingressfed-hub.mjs', import.meta.url));

// ---- records, as a spoke writes them ---------------------------------------------------------------

const source = (i: number) => ({ uid: `uid-${i}-${randomBytes(4).toString('hex')}`, resourceVersion: String(i + 1), creationTimestamp: '2026-01-01T00:00:00Z' });
const base = (cluster: string) => ({ schema: SCHEMA_VERSION as typeof SCHEMA_VERSION, cluster, epoch: 'bench', observedAt: Date.now(), revision: '1' });
const addressOf = (n: number): string => `127.77.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
const hostOf = (c: number, i: number): string => `app-${i}.c${c}.example.test`;

function appRecords(c: number, i: number, addrs: string[]): Array<[string, ObjectRecord]> {
  const cluster = `c${c}`;
  const ns = `ns-${c}`;
  const name = `app-${i}`;
  return [
    [objectKey(cluster, 'service', ns, name), { ...base(cluster), kind: 'service', source: source(i), namespace: ns, name,
      spec: { type: 'ClusterIP', annotations: {}, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: ECHO_PORT, nodePort: null }], loadBalancerIngress: [] } }],
    [objectKey(cluster, 'endpoints', ns, name), endpointsRecord(c, i, addrs)],
    [objectKey(cluster, 'ingress', ns, name), { ...base(cluster), kind: 'ingress', source: source(i), namespace: ns, name,
      spec: { className: 'ingressfed', annotations: {}, defaultBackend: null, tls: [],
        rules: [{ host: hostOf(c, i), paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } }] }] } }],
  ];
}

function endpointsRecord(c: number, i: number, addrs: string[]): ObjectRecord {
  const cluster = `c${c}`;
  return { ...base(cluster), kind: 'endpoints', source: source(i), namespace: `ns-${c}`, name: `app-${i}`,
    spec: { endpoints: addrs.map((address) => ({ address, ready: true, serving: true, terminating: false, zone: null, nodeName: null, ports: [{ name: 'http', port: ECHO_PORT, protocol: 'TCP' as const }] })) } };
}

const addrsFor = (c: number, i: number): string[] => Array.from({ length: E }, (_, k) => addressOf(((c * N + i) * E + k) % LISTENERS));

function check(key: string, value: unknown): string {
  const json = JSON.stringify(value);
  const d = decodeStateEntry(key, new TextEncoder().encode(json));
  if (!d.ok) throw new Error(`the benchmark's record ${key} is not what a spoke writes: ${d.reason}`);
  return json;
}

/** Puts records with bounded concurrency; answers when the last one is stored. */
async function putAll(kv: KV, entries: Array<[string, unknown]>, parallel = 256): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < entries.length) {
      const [k, v] = entries[next++] as [string, unknown];
      await kv.put(k, check(k, v));
    }
  }));
}

// ---- figures -----------------------------------------------------------------------------------------

const quantile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number);
};

async function metrics(url: string, token: string): Promise<Map<string, number>> {
  const r = await httpRequest(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const out = new Map<string, number>();
  for (const line of r.body.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+|NaN)$/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

const sum = (m: Map<string, number>, prefix: string): number => [...m].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);

async function wrk(url: string, host: string): Promise<number> {
  const { stdout } = await promisify(execFile)('wrk', ['-t', '1', '-c', '32', '-d', '5s', '-H', `Host: ${host}`, url], { timeout: 30_000 });
  const m = /Requests\/sec:\s+([0-9.]+)/.exec(stdout);
  if (!m) throw new Error(`wrk printed no rate: ${stdout}`);
  return Number(m[1]);
}

/** The HAProxy backend the edge routes a host's `/` to, from its exact-path map. */
async function edgeBackendOf(host: string): Promise<string> {
  const c = dp.client;
  const { data } = await c.unwrap('get map entry', c.api.GET('/services/haproxy/runtime/maps/{parent_name}/entries/{id}', { params: { path: { parent_name: 'ingressfed_exact.map', id: `${host}/` } } }));
  return data.value ?? '';
}

function echoServers(): Promise<Server[]> {
  return Promise.all(Array.from({ length: LISTENERS }, (_, n) => new Promise<Server>((resolve, reject) => {
    const s = createServer((_req, res) => res.end('ok'));
    s.keepAliveTimeout = 60_000;
    s.once('error', reject);
    s.listen(ECHO_PORT, addressOf(n), () => resolve(s));
  })));
}

// ---- the run -----------------------------------------------------------------------------------------

const nats = await startNats();
const redis = await startRedis();
const dp = await startLocalDataPlane({ reloadDelaySeconds: 1 });
const small = await startLocalDataPlane({ reloadDelaySeconds: 1 });
const echo = await echoServers();
const work = tempDir('bench-scale');
const token = randomBytes(16).toString('hex');
const apiPort = await freePort();
const edgePort = await freePort();
const smallPort = await freePort();
const edge = { name: 'edge-a', url: dp.url, username: dp.username, password: dp.password, zone: 'zone-a', bindAddress: '127.0.0.1', bindPort: edgePort, publicAddress: '127.0.0.1' };
writeFileSync(join(work.path, 'hub.json'), JSON.stringify({
  nats: { url: nats.url, user: nats.auth.hub.user, password: nats.auth.hub.password }, redis: { url: redis.url }, edges: [edge], allowedEndpointCidrs: { '*': ['127.0.0.0/8'] }, api: { host: '127.0.0.1', port: apiPort, tokens: [{ name: 'bench', token, role: 'read' }] },
}));
const hub = new ManagedProcess('ingressfed-hub', process.execPath, [
  ...(values['hub-node-args'] ?? '').split(' ').filter(Boolean), ...(values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : []), HUB_BIN, '--config', join(work.path, 'hub.json'),
], { logFile: join(work.path, 'hub.log') });
const apiUrl = `http://127.0.0.1:${apiPort}`;
// The records spokes would write, written here as the hub's identity (one connection for every cluster).
const nc = await nats.connectAsHub();
const results: Record<string, unknown> = { clusters: C, ingressesPerCluster: N, endpointsPerIngress: E };
let heartbeats: NodeJS.Timeout | undefined;
try {
  await hub.waitForLine(/"msg":"started"/, 30_000);
  const kv = await openBucket(nc, STATE_BUCKET);
  const clusters = Array.from({ length: C }, (_, c) => c);
  const beat = async (): Promise<void> => {
    for (const c of clusters) {
      await kv.put(heartbeatKey(`c${c}`), check(heartbeatKey(`c${c}`), { schema: SCHEMA_VERSION, cluster: `c${c}`, epoch: 'bench', time: Date.now(), objectCount: 3 * N + 1, digest: 'a'.repeat(64), synced: true }));
    }
  };
  await putAll(kv, clusters.flatMap((c) => [
    [infoKey(`c${c}`), { schema: SCHEMA_VERSION, cluster: `c${c}`, zone: c % 2 === 0 ? 'zone-a' : 'zone-b', region: null, endpointMode: 'pod', spokeVersion: 'bench', epoch: 'bench', startedAt: Date.now() }],
    [objectKey(`c${c}`, 'ingressclass', undefined, 'ingressfed'), { ...base(`c${c}`), kind: 'ingressclass', source: source(0), name: 'ingressfed', spec: { controller: 'ingressfed.io/hub', isDefault: true, annotations: {} } }],
  ] as Array<[string, unknown]>));
  await beat();
  heartbeats = setInterval(() => void beat().catch(() => undefined), 2000);

  // 1. Everything at once, as spokes starting together would write it.
  const t0 = performance.now();
  await putAll(kv, clusters.flatMap((c) => Array.from({ length: N }, (_, i) => appRecords(c, i, addrsFor(c, i))).flat()));
  const lastRecord = performance.now();
  const pending = new Set(clusters.flatMap((c) => Array.from({ length: N }, (_, i) => hostOf(c, i))));
  const answers = async (host: string): Promise<boolean> =>
    (await httpRequest(`http://127.0.0.1:${edgePort}/`, { host, timeoutMs: 5000 }).catch(() => ({ status: 0 }))).status === 200;
  // Every host is asked only once a few hosts spread over the list answer: sweeping ten thousand
  // hosts every 200 ms would take CPU from the hub and HAProxy on this 2-core machine.
  const probes = [...pending].filter((_, i, all) => i % Math.max(1, Math.floor(all.length / 8)) === 0);
  await waitFor('every host answering', async () => {
    if (!(await Promise.all(probes.map(answers))).every(Boolean)) return false;
    const batch = [...pending];
    for (let i = 0; i < batch.length; i += 64) {
      await Promise.all(batch.slice(i, i + 64).map(async (host) => {
        if (await answers(host)) pending.delete(host);
      }));
    }
    return pending.size === 0;
  }, { timeoutMs: 900_000, intervalMs: 200 });
  results.writeRecordsMs = Math.round(lastRecord - t0);
  results.lastRecordToEveryHostMs = Math.round(performance.now() - lastRecord);
  const reloadsAtConverge = (await dp.procState()).master.reloads;
  results.reloadsToConverge = reloadsAtConverge;

  // 2. One endpoint change at a time: the moved endpoint serving, and no reload.
  const endpointChange: number[] = [];
  for (let s = 0; endpointChange.length < SAMPLES; s++) {
    const c = s % C;
    const i = (s * 7919) % N;
    const addrs = addrsFor(c, i);
    const fresh = addressOf((LISTENERS - 1 - s) % LISTENERS);
    if (addrs.includes(fresh)) continue;
    addrs[0] = fresh;
    // The backend serving the host on the edge (its own, or a spare): the routing map says.
    const name = await edgeBackendOf(hostOf(c, i));
    const t = performance.now();
    await kv.put(objectKey(`c${c}`, 'endpoints', `ns-${c}`, `app-${i}`), check(objectKey(`c${c}`, 'endpoints', `ns-${c}`, `app-${i}`), endpointsRecord(c, i, addrs)));
    await waitFor('the moved endpoint live', async () => (await dp.client.listRuntimeServers(name)).some((x) => x.address === fresh && x.admin_state === 'ready'), { timeoutMs: 60_000, intervalMs: 2 });
    endpointChange.push(performance.now() - t);
  }
  const reloadsAfterEndpoints = (await dp.procState()).master.reloads;
  results.endpointChange = { samples: endpointChange.length, p50Ms: Math.round(quantile(endpointChange, 0.5)), p99Ms: Math.round(quantile(endpointChange, 0.99)), reloads: reloadsAfterEndpoints - reloadsAtConverge };

  // 3. One new Ingress at a time, until it answers.
  const newIngress: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const c = s % C;
    const i = N + s;
    const t = performance.now();
    await putAll(kv, appRecords(c, i, addrsFor(c, i)), 1);
    await waitFor('the new Ingress answering', async () => (await httpRequest(`http://127.0.0.1:${edgePort}/`, { host: hostOf(c, i) }).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 120_000, intervalMs: 5 });
    newIngress.push(performance.now() - t);
  }
  results.newIngress = { samples: newIngress.length, p50Ms: Math.round(quantile(newIngress, 0.5)), p99Ms: Math.round(quantile(newIngress, 0.99)), reloads: (await dp.procState()).master.reloads - reloadsAfterEndpoints };

  // 4. The full recompute, timed here on the same records (the hub's merge code, in this process).
  const records = new Map<string, ObjectRecord>();
  for (const c of clusters) for (let i = 0; i < N; i++) for (const [k, r] of appRecords(c, i, addrsFor(c, i))) records.set(k, r);
  const full = new IncrementalMerge({ endpointPolicy: new EndpointPolicy({ allowedCidrs: { '*': ['127.0.0.0/8'] }, edgeAddresses: ['127.0.0.1'] }) });
  for (const c of clusters) full.setZone(`c${c}`, c % 2 === 0 ? 'zone-a' : 'zone-b');
  for (const c of clusters) full.put(objectKey(`c${c}`, 'ingressclass', undefined, 'ingressfed'), { ...base(`c${c}`), kind: 'ingressclass', source: source(0), name: 'ingressfed', spec: { controller: 'ingressfed.io/hub', isDefault: true, annotations: {} } });
  const tf = performance.now();
  for (const [k, r] of records) full.put(k, r);
  const model = full.model();
  results.fullRecomputeMs = Math.round(performance.now() - tf);
  results.routes = model.routes.length;

  // 5. HAProxy at this many routes against 10 routes, same connections: a host in the middle and the last one.
  const hosts = model.routes.map((r) => r.host);
  const smallModel = { ...model, routes: model.routes.slice(0, 10), backends: model.backends.filter((b) => model.routes.slice(0, 10).some((r) => r.backend === b.id)) };
  await new EdgeApplier({ ...edge, name: 'edge-small', url: small.url, username: small.username, password: small.password, bindPort: smallPort }).reconcile({ model: smallModel });
  const smallHost = smallModel.routes[9]?.host as string;
  await waitFor('the 10-route edge answering', async () => (await httpRequest(`http://127.0.0.1:${smallPort}/`, { host: smallHost }).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 30_000 });
  // Measured with the edge quiet: the hub's idle work (map files, spare backends: a reload of the
  // whole configuration) comes 5 s after the last change.
  let quietSince = Date.now();
  let lastReloads = (await dp.procState()).master.reloads;
  await waitFor('the edge quiet for 8 s', async () => {
    const n = (await dp.procState()).master.reloads;
    if (n !== lastReloads) [lastReloads, quietSince] = [n, Date.now()];
    return Date.now() - quietSince >= 8000;
  }, { timeoutMs: 120_000, intervalMs: 500 });
  const mid = hosts[Math.floor(hosts.length / 2)] as string;
  const last = hosts.at(-1) as string;
  results.reqPerSec = {
    tenRoutes: await wrk(`http://127.0.0.1:${smallPort}/`, smallHost),
    middleHost: await wrk(`http://127.0.0.1:${edgePort}/`, mid),
    lastHost: await wrk(`http://127.0.0.1:${edgePort}/`, last),
  };

  // 6. The hub's own figures.
  const m = await metrics(apiUrl, token);
  const status = readFileSync(`/proc/${hub.child.pid}/status`, 'utf8');
  results.hub = {
    peakRssMb: Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024),
    merges: m.get('ingressfed_merge_seconds_count'),
    mergeMeanMs: Number((1000 * (m.get('ingressfed_merge_seconds_sum') ?? 0) / (m.get('ingressfed_merge_seconds_count') ?? 1)).toFixed(2)),
    plans: sum(m, 'ingressfed_plan_seconds_count'),
    planMeanMs: Number((1000 * sum(m, 'ingressfed_plan_seconds_sum') / Math.max(1, sum(m, 'ingressfed_plan_seconds_count'))).toFixed(2)),
    eventLoopDelayMaxMs: Math.round(1000 * (m.get('ingressfed_event_loop_delay_seconds{quantile="max"}') ?? NaN)),
    eventLoopDelayP99Ms: Math.round(1000 * (m.get('ingressfed_event_loop_delay_seconds{quantile="p99"}') ?? NaN)),
    leaderLost: m.get('ingressfed_leader_lost_total'),
    staleClusters: m.get('ingressfed_clusters{state="stale"}'),
    reloads: (await dp.procState()).master.reloads,
  };
  console.log(`scale: ${C} clusters x ${N} Ingresses x ${E} endpoints (${results.routes} routes), one edge, local Data Plane API, reload delay 1 s`);
  console.log(JSON.stringify(results, null, 2));
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
} finally {
  if (heartbeats) clearInterval(heartbeats);
  await nc.close();
  await hub.stop(20_000, 'SIGINT');
  await Promise.all([dp.stop(), small.stop(), nats.stop(), redis.stop()]);
  for (const s of echo) s.close();
  if (values['hub-log']) copyFileSync(join(work.path, 'hub.log'), values['hub-log']);
  work.remove();
}
