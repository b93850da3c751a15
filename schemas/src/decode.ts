import { isIP } from 'node:net';
import { parseStateKey, type StateKey } from './keys.js';
import { validators, type ClusterInfo, type Heartbeat, type ObjectRecord } from './records.js';

export type DecodedEntry =
  | { type: 'object'; key: Extract<StateKey, { type: 'object' }>; record: ObjectRecord }
  | { type: 'info'; cluster: string; info: ClusterInfo }
  | { type: 'heartbeat'; cluster: string; heartbeat: Heartbeat };

export type DecodeResult = { ok: true; entry: DecodedEntry } | { ok: false; cluster: string | undefined; reason: string };

/** Largest record the hub reads; spokes split large objects by key, never by message. */
export const MAX_RECORD_BYTES = 512 * 1024;

interface Checker {
  Check(v: unknown): boolean;
  Errors(v: unknown): Iterable<{ instancePath: string; message: string }>;
}

function describe(c: Checker, v: unknown): string {
  return [...c.Errors(v)].slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

/**
 * Decodes and validates one state bucket entry: the key must be one ingressfed writes, the value a
 * JSON record of that key's kind that passes its schema, and the record's cluster, namespace and
 * name must equal the key's. Anything else is refused with the reason.
 */
export function decodeStateEntry(key: string, value: Uint8Array): DecodeResult {
  let k: StateKey;
  try {
    k = parseStateKey(key);
  } catch (err) {
    return { ok: false, cluster: key.split('.')[0], reason: (err as Error).message };
  }
  const refuse = (reason: string): DecodeResult => ({ ok: false, cluster: k.cluster, reason: `${key.slice(0, 160)}: ${reason}` });
  if (value.length > MAX_RECORD_BYTES) return refuse(`record of ${value.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(value).toString('utf8'));
  } catch {
    return refuse('value is not valid JSON');
  }
  const cluster = (v as { cluster?: unknown } | null)?.cluster;
  if (cluster !== k.cluster) return refuse(`record names cluster '${String(cluster).slice(0, 63)}', the key names '${k.cluster}'`);
  if (k.type === 'info') {
    if (!validators.info.Check(v)) return refuse(`invalid cluster info: ${describe(validators.info, v)}`);
    return { ok: true, entry: { type: 'info', cluster: k.cluster, info: v as ClusterInfo } };
  }
  if (k.type === 'heartbeat') {
    if (!validators.heartbeat.Check(v)) return refuse(`invalid heartbeat: ${describe(validators.heartbeat, v)}`);
    return { ok: true, entry: { type: 'heartbeat', cluster: k.cluster, heartbeat: v as Heartbeat } };
  }
  if (k.kind === 'node') return refuse(`records of kind ${k.kind} are not read by this hub version`);
  const c = validators[k.kind];
  if (!c.Check(v)) return refuse(`invalid ${k.kind} record: ${describe(c, v)}`);
  const r = v as ObjectRecord;
  if (r.name !== k.name || ('namespace' in r ? r.namespace : undefined) !== k.namespace) {
    return refuse('record namespace/name do not match the key');
  }
  // The schema's patterns only shape addresses; an address HAProxy will connect to must parse as one.
  const addresses = r.kind === 'endpoints' ? r.spec.endpoints.map((e) => e.address) : r.kind === 'service' ? r.spec.loadBalancerIngress : [];
  const notIp = addresses.find((a) => isIP(a) === 0);
  if (notIp !== undefined) return refuse(`'${notIp}' is not an IPv4 or IPv6 address`);
  return { ok: true, entry: { type: 'object', key: k, record: r } };
}
