import { isIP } from 'node:net';
import type { KV } from '@nats-io/kv';
import { SCHEMA_VERSION, statusKey, type IngressRecord, type IngressStatusRecord } from '@ingressfed/schemas';
import { ingressKey, type FederatedModel, type IngressState } from '../model/types.js';
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

const NO_LINES: readonly string[] = [];

const addressesOf = (edges: EdgeProgress[]): IngressStatusRecord['addresses'] =>
  [...new Set(edges.map((e) => e.publicAddress))].sort().map((a) => (isIP(a) ? { ip: a } : { hostname: a }));

/**
 * Degraded when an edge failed to program the Ingress, a change of it was quarantined, endpoints of
 * its Services were refused by the endpoint policy, or hosts of its spec.tls cannot get its certificate.
 */
function degraded(notLive: EdgeProgress[], quarantined: QuarantinedRecord[], endpoints: readonly string[] = [], tls: readonly string[] = []): Condition | undefined {
  const failed = notLive.filter((e) => e.problem);
  const parts = [
    ...failed.map((e) => `not live on edge ${e.name}: ${e.problem}`),
    ...quarantined.map((q) => `HAProxy on edge ${q.edge} refused the change of ${q.key}; ${q.good ? 'its last good version is served' : 'it is not served'} until it changes: ${q.reason}`),
    ...endpoints,
    ...tls,
  ];
  if (parts.length === 0) return undefined;
  const reason = quarantined.length > 0 ? 'Quarantined' : failed.length > 0 ? 'EdgeNotProgrammed' : endpoints.length > 0 ? 'EndpointsRefused' : 'TlsRefused';
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

const NONE: QuarantinedRecord[] = [];

/**
 * What computeStatuses computed last, per Ingress, with the inputs it came from: an Ingress whose
 * inputs are the same objects keeps the same status object (and the writer skips it at once).
 */
export type StatusMemo = Map<string, { inputs: unknown[]; status: IngressStatusRecord | undefined }>;

const sameInputs = (a: unknown[], b: unknown[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The status each Ingress should carry in its own cluster, from the federated model and what each
 * edge has live. Pure. An Ingress is reported served (addresses, Accepted) only by the edges that
 * applied it; Ingresses of other classes get none: they are not ingressfed's to describe.
 */
export function computeStatuses(model: FederatedModel, ingresses: Iterable<IngressRecord>, edges: EdgeProgress[],
  quarantined: Map<string, QuarantinedRecord[]> = new Map(), memo: StatusMemo = new Map()): Map<string, IngressStatusRecord> {
  const pass = new StatusPass(model, edges, quarantined, memo);
  for (const ing of ingresses) pass.add(ing);
  return pass.finish();
}

/** computeStatuses one Ingress at a time, so that a caller can yield between slices of a large fleet. */
export class StatusPass {
  private readonly out = new Map<string, IngressStatusRecord>();
  private readonly seen = new Set<string>();
  private served: Set<string> | undefined;

  constructor(private readonly model: FederatedModel, private readonly edges: EdgeProgress[],
    private readonly quarantined: Map<string, QuarantinedRecord[]>, private readonly memo: StatusMemo,
    private readonly refusedEndpoints: ReadonlyMap<string, string[]> = new Map(),
    private readonly tlsRefusals: ReadonlyMap<string, string[]> = new Map()) {}

  add(ing: IngressRecord): void {
    const { model, edges, memo } = this;
    const key = ingressKey({ cluster: ing.cluster, namespace: ing.namespace, name: ing.name });
    this.seen.add(key);
    const st = model.ingresses.get(key);
    const refused = this.quarantined.get(key) ?? NONE;
    const live = edges.map((e) => e.live(key, ing));
    const endpoints = this.refusedEndpoints.get(key) ?? NO_LINES;
    const tls = this.tlsRefusals.get(key) ?? NO_LINES;
    const inputs: unknown[] = [st, ing, refused, endpoints.join('\n'), tls.join('\n'), ...live, ...edges.map((e) => e.problem), st?.state === 'conflicted' ? model.routes : undefined];
    const hit = memo.get(key);
    const status = hit && sameInputs(hit.inputs, inputs) ? hit.status : statusOf(key, ing, st, edges, live, refused, { endpoints, tls }, (k) => this.isServed(k));
    if (hit?.status !== status || !hit) memo.set(key, { inputs, status });
    if (status) this.out.set(statusKey(ing.cluster, ing.namespace, ing.name), status);
  }

  /** The statuses of every Ingress added; the memo forgets the others. */
  finish(): Map<string, IngressStatusRecord> {
    for (const k of this.memo.keys()) if (!this.seen.has(k)) this.memo.delete(k);
    return this.out;
  }

  private isServed(key: string): boolean {
    this.served ??= new Set(this.model.routes.flatMap((r) => r.sources.map((x) => ingressKey(x))));
    return this.served.has(key);
  }
}

/** The status of one Ingress; undefined for one that is not ingressfed's. */
function statusOf(key: string, ing: IngressRecord, st: IngressState | undefined, edges: EdgeProgress[], liveOn: boolean[],
  refused: QuarantinedRecord[], problems: { endpoints: readonly string[]; tls: readonly string[] }, isServed: (key: string) => boolean): IngressStatusRecord | undefined {
  const base = { schema: SCHEMA_VERSION, cluster: ing.cluster, namespace: ing.namespace, name: ing.name, uid: ing.source.uid } as const;
  if (!st && refused.length > 0) {
    // A new Ingress whose change HAProxy refused: it is not in the model at all.
    return { ...base, addresses: [], conditions: [
      { type: 'Accepted', status: 'False', reason: 'Quarantined', message: 'HAProxy refused the configuration for this Ingress; see the Degraded condition' },
      degraded([], refused) as Condition,
    ] };
  }
  if (!st || st.state === 'ignored') return undefined;
  const live = edges.filter((_, i) => liveOn[i]);
  const notLive = edges.filter((_, i) => !liveOn[i]);
  const extra = degraded(st.state === 'invalid' ? [] : notLive, refused, problems.endpoints, problems.tls);
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
    const s = isServed(key) ? servedConditions(edges, live, { reason: 'PartiallyAccepted', message: 'served, except the routes an older Ingress owns' })
      : { addresses: [], accepted: { type: 'Accepted', status: 'False', reason: 'Conflicted', message: 'every route is owned by an older Ingress' } as Condition };
    rec = { ...base, addresses: s.addresses, conditions: [s.accepted,
      { type: 'Conflicted', status: 'True', reason: 'RouteConflict', message: st.reasons.join('; ').slice(0, 8192) },
    ] };
  }
  if (extra) rec.conditions.push(extra);
  return rec;
}

/** Keeps the status bucket equal to the computed statuses: writes what changed, deletes what is gone. */
export class StatusWriter {
  /** What is in the bucket, per key: its JSON, and the status object it was made from (when written here). */
  private readonly written = new Map<string, { json: string; from?: IngressStatusRecord }>();
  lastError: string | undefined;

  constructor(private readonly kv: KV) {}

  async load(): Promise<void> {
    for await (const key of await this.kv.keys('>')) {
      const e = await this.kv.get(key);
      if (e && e.operation === 'PUT') this.written.set(key, { json: e.string() });
    }
  }

  async sync(desired: Map<string, IngressStatusRecord>): Promise<{ puts: number; deletes: number }> {
    let puts = 0;
    let deletes = 0;
    try {
      for (const [key, rec] of desired) {
        const had = this.written.get(key);
        if (had?.from === rec) continue; // the same status object: written already
        const json = JSON.stringify(rec);
        if (had?.json !== json) {
          await this.kv.put(key, json);
          puts++;
        }
        this.written.set(key, { json, from: rec });
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
