import { randomUUID } from 'node:crypto';
import type { KubeResource } from './resources.js';

export type KubeObject = Record<string, unknown> & { metadata: Record<string, unknown> };
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  type: WatchEventType;
  plural: string;
  object: KubeObject;
}

export class KubeError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'KubeError';
  }
}

type Listener = (e: StoredEvent) => void;

const objKey = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

/**
 * Objects of every served kind with one resourceVersion counter, as etcd gives the API server. The
 * event history is bounded: a watch from a version older than the oldest kept event gets 410 Gone.
 */
export class ObjectStore {
  private rv = 1;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: StoredEvent[] = [];
  /** Lowest resourceVersion a watch may resume from. */
  private compactedThrough = 1;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly historyLimit = 1000) {}

  get resourceVersion(): number {
    return this.rv;
  }

  get oldestResumable(): number {
    return this.compactedThrough;
  }

  private kind(plural: string): Map<string, KubeObject> {
    let m = this.objects.get(plural);
    if (!m) {
      m = new Map();
      this.objects.set(plural, m);
    }
    return m;
  }

  list(r: KubeResource, ns?: string): KubeObject[] {
    const out = [...this.kind(r.plural).values()].filter((o) => ns === undefined || o.metadata.namespace === ns);
    return structuredClone(out).sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)));
  }

  get(r: KubeResource, ns: string | undefined, name: string): KubeObject {
    const o = this.kind(r.plural).get(objKey(ns, name));
    if (!o) throw new KubeError(404, 'NotFound', `${r.plural}${r.group ? `.${r.group}` : ''} "${name}" not found`);
    return structuredClone(o);
  }

  create(r: KubeResource, ns: string | undefined, obj: KubeObject): KubeObject {
    const name = String(obj.metadata.name ?? '');
    if (!name) throw new KubeError(422, 'Invalid', `${r.kind} is invalid: metadata.name: Required value`);
    const m = this.kind(r.plural);
    if (m.has(objKey(ns, name))) throw new KubeError(409, 'AlreadyExists', `${r.plural}${r.group ? `.${r.group}` : ''} "${name}" already exists`);
    const stored = structuredClone(obj);
    stored.apiVersion = r.group === '' ? r.version : `${r.group}/${r.version}`;
    stored.kind = r.kind;
    stored.metadata = {
      ...stored.metadata,
      ...(r.namespaced ? { namespace: ns } : {}),
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      generation: 1,
    };
    delete stored.metadata.resourceVersion;
    // As the API server does: status is set through the status subresource, not at create.
    if (r.hasStatus) delete stored.status;
    return this.commit(r, 'ADDED', ns, stored);
  }

  /** Replaces an object (PUT); `subresource` 'status' replaces only the status. */
  replace(r: KubeResource, ns: string | undefined, name: string, obj: KubeObject, subresource?: 'status'): KubeObject {
    const cur = this.get(r, ns, name);
    const wantRv = obj.metadata.resourceVersion;
    if (wantRv !== undefined && wantRv !== '' && String(wantRv) !== String(cur.metadata.resourceVersion)) {
      throw new KubeError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    let next: KubeObject;
    if (subresource === 'status') {
      next = { ...cur, status: structuredClone(obj.status) };
    } else {
      next = structuredClone(obj);
      next.apiVersion = cur.apiVersion;
      next.kind = cur.kind;
      if (r.hasStatus) next.status = cur.status;
      const specChanged = JSON.stringify(next.spec) !== JSON.stringify(cur.spec);
      next.metadata = {
        ...next.metadata,
        name,
        ...(r.namespaced ? { namespace: ns } : {}),
        uid: cur.metadata.uid,
        creationTimestamp: cur.metadata.creationTimestamp,
        generation: Number(cur.metadata.generation ?? 1) + (specChanged ? 1 : 0),
      };
    }
    return this.commit(r, 'MODIFIED', ns, next);
  }

  delete(r: KubeResource, ns: string | undefined, name: string): KubeObject {
    const cur = this.get(r, ns, name);
    this.kind(r.plural).delete(objKey(ns, name));
    const rv = ++this.rv;
    cur.metadata.resourceVersion = String(rv);
    this.record({ rv, type: 'DELETED', plural: r.plural, object: cur });
    return structuredClone(cur);
  }

  private commit(r: KubeResource, type: WatchEventType, ns: string | undefined, obj: KubeObject): KubeObject {
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    this.kind(r.plural).set(objKey(ns, String(obj.metadata.name)), obj);
    this.record({ rv, type, plural: r.plural, object: structuredClone(obj) });
    return structuredClone(obj);
  }

  private record(e: StoredEvent): void {
    this.history.push(e);
    if (this.history.length > this.historyLimit) this.compactBefore(this.history[this.history.length - this.historyLimit]?.rv ?? e.rv);
    for (const l of this.listeners) l(e);
  }

  /** Forgets history older than `rv`, as etcd compaction does; watches from before it get 410. */
  compactBefore(rv: number): void {
    this.history = this.history.filter((e) => e.rv >= rv);
    this.compactedThrough = Math.max(this.compactedThrough, rv - 1);
  }

  /** Forgets all history: every watch resuming from an old version gets 410 Gone. */
  compactAll(): void {
    this.compactBefore(this.rv + 1);
  }

  /** Events after `rv` for one kind, or undefined when they were compacted away. */
  eventsSince(plural: string, rv: number): StoredEvent[] | undefined {
    if (rv < this.compactedThrough) return undefined;
    return this.history.filter((e) => e.plural === plural && e.rv > rv).map((e) => structuredClone(e));
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
