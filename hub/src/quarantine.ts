import { parseStateKey, type ObjectRecord } from '@ingressfed/schemas';
import { ingressKey } from './model/types.js';

/** A record whose change HAProxy refused: the hub plans with its last good version instead. */
export interface QuarantinedRecord {
  key: string;
  cluster: string;
  /** HAProxy's words, from the edge that refused it. */
  reason: string;
  edge: string;
  since: number;
  /** The version HAProxy refused (undefined: its deletion was refused). */
  refused: ObjectRecord | undefined;
  /** The version planned instead (undefined: the record is left out). */
  good: ObjectRecord | undefined;
}

/** Same object, same content: a spoke that publishes an object again does not lift its quarantine. */
export function sameContent(a: ObjectRecord | undefined, b: ObjectRecord | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.source.uid === b.source.uid && JSON.stringify(a.spec) === JSON.stringify(b.spec);
}

/**
 * Records whose changes HAProxy refused. One cluster's bad record must not block anything else: it
 * is planned at its last good version (or left out) until its owner changes it, and reported on the
 * Ingresses it concerns.
 */
export class Quarantine {
  private readonly entries = new Map<string, QuarantinedRecord>();
  /** Moves with every change of the quarantine. */
  version = 0;

  list(): QuarantinedRecord[] {
    return [...this.entries.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  get size(): number {
    return this.entries.size;
  }

  add(entry: QuarantinedRecord): void {
    this.entries.set(entry.key, entry);
    this.version++;
  }

  get(key: string): QuarantinedRecord | undefined {
    return this.entries.get(key);
  }

  /** Lifts a quarantine (its record changed since it was refused: it is tried again). */
  lift(key: string): void {
    if (this.entries.delete(key)) this.version++;
  }

  /**
   * What to report per Ingress (key `cluster/namespace/name`): a quarantined Ingress itself, and the
   * Ingresses of the same cluster and namespace that use a quarantined Service or its endpoints.
   */
  byIngress(records: ReadonlyMap<string, ObjectRecord>): Map<string, QuarantinedRecord[]> {
    const out = new Map<string, QuarantinedRecord[]>();
    const add = (k: string, e: QuarantinedRecord): void => void out.set(k, [...(out.get(k) ?? []), e]);
    for (const e of this.entries.values()) {
      const key = parseStateKey(e.key);
      if (key.type !== 'object') continue;
      if (key.kind === 'ingress') add(ingressKey({ cluster: key.cluster, namespace: key.namespace ?? '', name: key.name }), e);
      if (key.kind !== 'service' && key.kind !== 'endpoints') continue;
      for (const r of records.values()) {
        if (r.kind !== 'ingress' || r.cluster !== key.cluster || r.namespace !== key.namespace) continue;
        const refs = [r.spec.defaultBackend, ...r.spec.rules.flatMap((x) => x.paths.map((p) => p.backend))];
        if (refs.some((b) => b !== null && 'service' in b && b.service.name === key.name)) add(ingressKey(r), e);
      }
    }
    return out;
  }
}
