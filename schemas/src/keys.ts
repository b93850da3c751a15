import { isDnsLabel } from './names.js';

/** JetStream KV bucket of the state every spoke publishes. */
export const STATE_BUCKET = 'ingressfed_state';
/** JetStream KV bucket of the per-Ingress status the hub writes back. */
export const STATUS_BUCKET = 'ingressfed_status';
/** JetStream KV bucket where the hub keeps records it holds over older ones (no spoke may read or write it). */
export const HELD_BUCKET = 'ingressfed_held';
/** JetStream KV bucket of the drains operators asked for (hub only). */
export const DRAINS_BUCKET = 'ingressfed_drains';

export const RECORD_KINDS = ['ingressclass', 'ingress', 'service', 'endpoints', 'secret', 'node'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];
export const CLUSTER_SCOPED: readonly RecordKind[] = ['ingressclass', 'node'];

/** The namespace token of cluster-scoped objects: `_` can never be a namespace (DNS label). */
const NO_NAMESPACE = '_';

/**
 * Escapes one key token: everything but letters, digits, '_' and '-' becomes `=XX`. The '.' of an
 * object name cannot collide with the '.' separating tokens, and '=' itself is escaped.
 */
export function encodeToken(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) => (/[A-Za-z0-9_-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

export function decodeToken(t: string): string {
  if (!/^([A-Za-z0-9_-]|=[0-9A-F]{2})*$/.test(t)) throw new Error(`'${t.slice(0, 80)}' is not an encoded key token`);
  return Buffer.from(t.replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

export type StateKey =
  | { type: 'object'; cluster: string; kind: RecordKind; namespace: string | undefined; name: string }
  | { type: 'info'; cluster: string }
  | { type: 'heartbeat'; cluster: string };

export function objectKey(cluster: string, kind: RecordKind, namespace: string | undefined, name: string): string {
  return `${cluster}.${kind}.${namespace === undefined ? NO_NAMESPACE : encodeToken(namespace)}.${encodeToken(name)}`;
}

export const infoKey = (cluster: string): string => `${cluster}._info`;
export const heartbeatKey = (cluster: string): string => `${cluster}._heartbeat`;
export const statusKey = (cluster: string, namespace: string, name: string): string =>
  `${cluster}.ingress.${encodeToken(namespace)}.${encodeToken(name)}`;

/** Parses a state bucket key; throws with the reason when it is not one ingressfed writes. */
export function parseStateKey(key: string): StateKey {
  const parts = key.split('.');
  const cluster = parts[0] ?? '';
  if (!isDnsLabel(cluster)) throw new Error(`key '${key.slice(0, 120)}': cluster '${cluster.slice(0, 63)}' is not a DNS label`);
  if (parts.length === 2 && parts[1] === '_info') return { type: 'info', cluster };
  if (parts.length === 2 && parts[1] === '_heartbeat') return { type: 'heartbeat', cluster };
  if (parts.length !== 4) throw new Error(`key '${key.slice(0, 120)}' does not have the form <cluster>.<kind>.<namespace>.<name>`);
  const kind = parts[1] as RecordKind;
  if (!RECORD_KINDS.includes(kind)) throw new Error(`key '${key.slice(0, 120)}': unknown kind '${String(parts[1]).slice(0, 40)}'`);
  const nsToken = parts[2] as string;
  const clusterScoped = CLUSTER_SCOPED.includes(kind);
  if (clusterScoped !== (nsToken === NO_NAMESPACE)) throw new Error(`key '${key.slice(0, 120)}': namespace token does not fit kind ${kind}`);
  return { type: 'object', cluster, kind, namespace: clusterScoped ? undefined : decodeToken(nsToken), name: decodeToken(parts[3] as string) };
}

/** Whether a key of the state bucket is an object record's (not a cluster's info or heartbeat, nor malformed). */
export function isObjectKey(key: string): boolean {
  try {
    return parseStateKey(key).type === 'object';
  } catch {
    return false;
  }
}
