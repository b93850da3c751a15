import { isIP } from 'node:net';
import type { KV } from '@nats-io/kv';
import { SCHEMA_VERSION, statusKey, type IngressStatusRecord } from '@ingressfed/schemas';
import { ingressKey, type ClusterSnapshot, type FederatedModel } from '../model/types.js';

/**
 * The status each Ingress should carry in its own cluster, from the federated model. Pure. Ingresses
 * of other classes get none: they are not ingressfed's to describe.
 */
export function computeStatuses(model: FederatedModel, snapshots: ClusterSnapshot[], publicAddresses: string[]): Map<string, IngressStatusRecord> {
  const out = new Map<string, IngressStatusRecord>();
  const addresses = [...new Set(publicAddresses)].sort().map((a) => (isIP(a) ? { ip: a } : { hostname: a }));
  for (const snap of snapshots) {
    for (const ing of snap.ingresses) {
      const key = ingressKey({ cluster: snap.name, namespace: ing.namespace, name: ing.name });
      const st = model.ingresses.get(key);
      if (!st || st.state === 'ignored') continue;
      const base = { schema: SCHEMA_VERSION, cluster: snap.name, namespace: ing.namespace, name: ing.name, uid: ing.source.uid } as const;
      let rec: IngressStatusRecord;
      if (st.state === 'accepted') {
        rec = { ...base, addresses, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'served by the ingressfed edges' }] };
      } else if (st.state === 'invalid') {
        rec = { ...base, addresses: [], conditions: [
          { type: 'Accepted', status: 'False', reason: 'Invalid', message: 'refused; see the Invalid condition' },
          { type: 'Invalid', status: 'True', reason: 'InvalidSpec', message: st.reasons.join('; ').slice(0, 8192) },
        ] };
      } else {
        // A conflicted Ingress keeps the routes no older Ingress claims.
        const served = model.routes.some((r) => r.sources.some((x) => ingressKey(x) === key));
        rec = { ...base, addresses: served ? addresses : [], conditions: [
          served
            ? { type: 'Accepted', status: 'True', reason: 'PartiallyAccepted', message: 'served, except the routes an older Ingress owns' }
            : { type: 'Accepted', status: 'False', reason: 'Conflicted', message: 'every route is owned by an older Ingress' },
          { type: 'Conflicted', status: 'True', reason: 'RouteConflict', message: st.reasons.join('; ').slice(0, 8192) },
        ] };
      }
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
