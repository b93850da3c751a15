import { isIP } from 'node:net';
import type { KV } from '@nats-io/kv';
import { SCHEMA_VERSION, statusKey, type IngressRecord, type IngressStatusRecord } from '@ingressfed/schemas';
import { ingressKey, type ClusterSnapshot, type FederatedModel } from '../model/types.js';
import type { QuarantinedRecord } from '../quarantine.js';

/** How far one edge is with an Ingress. */
export interface EdgeProgress {
  name: string;
  publicAddress: string;
  /** Whether the Ingress (this version of it) is live on the edge: the edge applied a model with it. */
  live: (key: string, ingress: IngressRecord) => boolean;
  /** Why the edge is behind, if it failed. */
  problem: string | undefined;
}

type Condition = IngressStatusRecord['conditions'][number];

const addressesOf = (edges: EdgeProgress[]): IngressStatusRecord['addresses'] =>
  [...new Set(edges.map((e) => e.publicAddress))].sort().map((a) => (isIP(a) ? { ip: a } : { hostname: a }));

/** Degraded when an edge failed to program the Ingress, or a change of it was quarantined. */
function degraded(notLive: EdgeProgress[], quarantined: QuarantinedRecord[]): Condition | undefined {
  const parts = [
    ...notLive.filter((e) => e.problem).map((e) => `not live on edge ${e.name}: ${e.problem}`),
    ...quarantined.map((q) => `HAProxy on edge ${q.edge} refused the change of ${q.key}; ${q.good ? 'its last good version is served' : 'it is not served'} until it changes: ${q.reason}`),
  ];
  if (parts.length === 0) return undefined;
  const reason = quarantined.length > 0 ? 'Quarantined' : 'EdgeNotProgrammed';
  return { type: 'Degraded', status: 'True', reason, message: parts.join('; ').slice(0, 8192) };
}

/** Accepted, and served only where the edges have it live. */
function servedConditions(edges: EdgeProgress[], live: EdgeProgress[], base: { reason: string; message: string }): { addresses: IngressStatusRecord['addresses']; accepted: Condition } {
  if (live.length === edges.length) return { addresses: addressesOf(live), accepted: { type: 'Accepted', status: 'True', ...base } };
  if (live.length > 0) {
    return { addresses: addressesOf(live), accepted: { type: 'Accepted', status: 'True', reason: base.reason, message: `${base.message}; live on ${live.length} of ${edges.length} edges` } };
  }
  return { addresses: [], accepted: { type: 'Accepted', status: 'False', reason: 'Pending', message: 'accepted, but not live on any edge yet' } };
}

/**
 * The status each Ingress should carry in its own cluster, from the federated model and what each
 * edge has live. Pure. An Ingress is reported served (addresses, Accepted) only by the edges that
 * applied it; Ingresses of other classes get none: they are not ingressfed's to describe.
 */
export function computeStatuses(model: FederatedModel, snapshots: ClusterSnapshot[], edges: EdgeProgress[],
  quarantined: Map<string, QuarantinedRecord[]> = new Map()): Map<string, IngressStatusRecord> {
  const out = new Map<string, IngressStatusRecord>();
  for (const snap of snapshots) {
    for (const ing of snap.ingresses) {
      const key = ingressKey({ cluster: snap.name, namespace: ing.namespace, name: ing.name });
      const st = model.ingresses.get(key);
      const base = { schema: SCHEMA_VERSION, cluster: snap.name, namespace: ing.namespace, name: ing.name, uid: ing.source.uid } as const;
      const refused = quarantined.get(key) ?? [];
      if (!st && refused.length > 0) {
        // A new Ingress whose change HAProxy refused: it is not in the model at all.
        out.set(statusKey(snap.name, ing.namespace, ing.name), { ...base, addresses: [], conditions: [
          { type: 'Accepted', status: 'False', reason: 'Quarantined', message: 'HAProxy refused the configuration for this Ingress; see the Degraded condition' },
          degraded([], refused) as Condition,
        ] });
        continue;
      }
      if (!st || st.state === 'ignored') continue;
      const live = edges.filter((e) => e.live(key, ing));
      const notLive = edges.filter((e) => !live.includes(e));
      const extra = degraded(st.state === 'invalid' ? [] : notLive, refused);
      let rec: IngressStatusRecord;
      if (st.state === 'accepted') {
        const s = servedConditions(edges, live, { reason: 'Accepted', message: 'served by the ingressfed edges' });
        rec = { ...base, addresses: s.addresses, conditions: [s.accepted] };
      } else if (st.state === 'invalid') {
        rec = { ...base, addresses: [], conditions: [
          { type: 'Accepted', status: 'False', reason: 'Invalid', message: 'refused; see the Invalid condition' },
          { type: 'Invalid', status: 'True', reason: 'InvalidSpec', message: st.reasons.join('; ').slice(0, 8192) },
        ] };
      } else {
        // A conflicted Ingress keeps the routes no older Ingress claims.
        const served = model.routes.some((r) => r.sources.some((x) => ingressKey(x) === key));
        const s = served ? servedConditions(edges, live, { reason: 'PartiallyAccepted', message: 'served, except the routes an older Ingress owns' })
          : { addresses: [], accepted: { type: 'Accepted', status: 'False', reason: 'Conflicted', message: 'every route is owned by an older Ingress' } as Condition };
        rec = { ...base, addresses: s.addresses, conditions: [s.accepted,
          { type: 'Conflicted', status: 'True', reason: 'RouteConflict', message: st.reasons.join('; ').slice(0, 8192) },
        ] };
      }
      if (extra) rec.conditions.push(extra);
      out.set(statusKey(snap.name, ing.namespace, ing.name), rec);
    }
  }
  return out;
}

/** Keeps the status bucket equal to the computed statuses: writes what changed, deletes what is gone. */
export class StatusWriter {
  private readonly written = new Map<string, string>();
  lastError: string | undefined;

  constructor(private readonly kv: KV) {}

  async load(): Promise<void> {
    for await (const key of await this.kv.keys('>')) {
      const e = await this.kv.get(key);
      if (e && e.operation === 'PUT') this.written.set(key, e.string());
    }
  }

  async sync(desired: Map<string, IngressStatusRecord>): Promise<{ puts: number; deletes: number }> {
    let puts = 0;
    let deletes = 0;
    try {
      for (const [key, rec] of desired) {
        const json = JSON.stringify(rec);
        if (this.written.get(key) === json) continue;
        await this.kv.put(key, json);
        this.written.set(key, json);
        puts++;
      }
      for (const key of [...this.written.keys()]) {
        if (desired.has(key)) continue;
        await this.kv.delete(key);
        this.written.delete(key);
        deletes++;
      }
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
    }
    return { puts, deletes };
  }
}
