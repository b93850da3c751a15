import assert from 'node:assert/strict';
import type { KV } from '@nats-io/kv';
import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1Service } from '@kubernetes/client-node';
import { isObjectKey } from '@ingressfed/schemas';
import { desiredRecords } from '@ingressfed/spoke';
import { waitFor, type Federation } from '../harness/index.js';

// A cluster's records as the state bucket holds them and as its API server's objects make them, to
// show that nothing was lost: the bucket ends equal to the cluster.

/** A record in the bucket: its content (without epoch, observedAt and revision) and the bucket's revision of it. */
export type BucketEntry = { revision: number; content: string };

/** The cluster's object records in the state bucket. */
export async function bucketRecords(kv: KV, cluster: string): Promise<Map<string, BucketEntry>> {
  const out = new Map<string, BucketEntry>();
  for await (const key of await kv.keys(`${cluster}.>`)) {
    if (!isObjectKey(key)) continue;
    const e = await kv.get(key);
    if (!e || e.operation !== 'PUT') continue;
    const { epoch: _e, observedAt: _o, revision: _r, ...rest } = e.json<Record<string, unknown>>();
    out.set(key, { revision: e.revision, content: JSON.stringify(rest) });
  }
  return out;
}

/** What the cluster has, read with kubectl, as the records its spoke makes (the same fields compared). */
export async function clusterRecords(fed: Federation, cluster: string): Promise<Map<string, string>> {
  const items = (JSON.parse(await fed.kubectl(cluster, ['get', 'ingressclasses,ingresses,services,endpointslices', '-A', '-o', 'json'])) as { items: Array<{ kind: string }> }).items;
  const of = <T>(kind: string): T[] => items.filter((i) => i.kind === kind) as T[];
  const records = desiredRecords({
    ingressClasses: of<V1IngressClass>('IngressClass'), ingresses: of<V1Ingress>('Ingress'),
    services: of<V1Service>('Service'), endpointSlices: of<V1EndpointSlice>('EndpointSlice'),
  }, { cluster, epoch: '', now: 0, revision: '0', endpointMode: 'pod' });
  return new Map(records.map((r) => [r.key, r.content]));
}

/** Key and content pairs, sorted by key. */
export const contentsOf = (m: Map<string, BucketEntry>): Array<[string, string]> =>
  [...m].map(([k, v]): [string, string] => [k, v.content]).sort(([a], [b]) => a.localeCompare(b));

/** Waits until the bucket holds exactly the cluster's records; answers them. On timeout, fails showing the difference. */
export async function bucketEqualsCluster(fed: Federation, kv: KV, cluster: string, timeoutMs = 15_000): Promise<Map<string, BucketEntry>> {
  const sorted = (m: Map<string, string>): Array<[string, string]> => [...m].sort(([a], [b]) => a.localeCompare(b));
  let last: { bucket: Array<[string, string]>; cluster: Array<[string, string]> } | undefined;
  try {
    return await waitFor(`${cluster}'s records in the bucket equal to the cluster`, async () => {
      const [b, c] = [await bucketRecords(kv, cluster), await clusterRecords(fed, cluster)];
      last = { bucket: contentsOf(b), cluster: sorted(c) };
      return JSON.stringify(last.bucket) === JSON.stringify(last.cluster) && b;
    }, { timeoutMs, intervalMs: 100 });
  } catch (err) {
    if (last) assert.deepEqual(last.bucket, last.cluster, (err as Error).message);
    throw err;
  }
}
