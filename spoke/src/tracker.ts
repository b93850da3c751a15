import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1Node, V1Service } from '@kubernetes/client-node';
import { objectKey } from '@ingressfed/schemas';
import {
  SERVICE_NAME_LABEL, classService, contentOf, endpointsRecord, ingressClassRecord, ingressRecord, isInClass, serviceRecord, servicesOf,
  type ClusterObjects, type DesiredRecord, type TranslateContext,
} from './translate.js';

// The records of one cluster kept up to date change by change: an Ingress change recomputes that
// Ingress (and the Services it starts or stops referencing), a Service or EndpointSlice change that
// Service's two records. Only IngressClass and Node changes recompute widely (every Ingress, or every
// Service), as they bear on all of them. desiredRecords() stays the reference it must equal.

type Kind = 'ingress' | 'service' | 'endpointslice' | 'ingressclass' | 'node';

const nsName = (o: { metadata?: { namespace?: string; name?: string } }): string => `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
const split = (k: string): [string, string] => {
  const i = k.indexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
};

export class RecordTracker {
  private readonly ingresses = new Map<string, V1Ingress>();
  private readonly services = new Map<string, V1Service>();
  private readonly slices = new Map<string, V1EndpointSlice>();
  /** Service → the slices labelled with it (namespace/slice name). */
  private readonly slicesOf = new Map<string, Set<string>>();
  private readonly serviceOfSlice = new Map<string, string>();
  private classes: V1IngressClass[] = [];
  private nodes: V1Node[] = [];
  /** Service → the Ingresses and classes that reference it; and the reverse. */
  private readonly referrers = new Map<string, Set<string>>();
  private readonly refsOf = new Map<string, string[]>();
  /** The current record of every key. */
  readonly records = new Map<string, DesiredRecord>();
  private readonly dirtyIngresses = new Set<string>();
  private readonly dirtyServices = new Set<string>();
  private classesDirty = false;
  private classKeys = new Set<string>();
  /** Record keys whose content changed since the last take(). */
  private readonly changed = new Set<string>();

  constructor(private readonly ctx: Omit<TranslateContext, 'now' | 'revision'>) {}

  /** Replaces everything with a full listing: every record is recomputed. */
  reset(objs: ClusterObjects): void {
    // What was known is recomputed too: records of objects no longer listed go.
    for (const k of this.ingresses.keys()) this.dirtyIngresses.add(k);
    for (const k of this.services.keys()) this.dirtyServices.add(k);
    this.ingresses.clear();
    this.services.clear();
    this.slices.clear();
    this.slicesOf.clear();
    this.serviceOfSlice.clear();
    for (const i of objs.ingresses) this.note('ingress', i, false);
    for (const s of objs.services) this.note('service', s, false);
    for (const s of objs.endpointSlices) this.note('endpointslice', s, false);
    this.setClasses(objs.ingressClasses);
    this.nodes = [...(objs.nodes ?? [])];
  }

  /** One object added, updated or deleted (for IngressClasses and Nodes: pass the whole list). */
  note(kind: Kind, obj: V1Ingress | V1Service | V1EndpointSlice, deleted: boolean): void {
    const key = nsName(obj);
    if (kind === 'ingress') {
      if (deleted) this.ingresses.delete(key);
      else this.ingresses.set(key, obj as V1Ingress);
      this.dirtyIngresses.add(key);
    } else if (kind === 'service') {
      if (deleted) this.services.delete(key);
      else this.services.set(key, obj as V1Service);
      this.dirtyServices.add(key);
    } else if (kind === 'endpointslice') {
      this.noteSlice(key, obj as V1EndpointSlice, deleted);
    }
  }

  setClasses(classes: V1IngressClass[]): void {
    this.classes = [...classes];
    this.classesDirty = true;
  }

  /** Nodes bear on every Service reached through node ports. */
  setNodes(nodes: V1Node[]): void {
    this.nodes = [...nodes];
    for (const k of this.services.keys()) this.dirtyServices.add(k);
  }

  private noteSlice(key: string, slice: V1EndpointSlice, deleted: boolean): void {
    const before = this.serviceOfSlice.get(key);
    if (before !== undefined) {
      this.slicesOf.get(before)?.delete(key);
      this.dirtyServices.add(before);
    }
    this.serviceOfSlice.delete(key);
    this.slices.delete(key);
    const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (deleted || !name) return;
    const svc = `${slice.metadata?.namespace ?? 'default'}/${name}`;
    this.slices.set(key, slice);
    this.serviceOfSlice.set(key, svc);
    let set = this.slicesOf.get(svc);
    if (!set) this.slicesOf.set(svc, (set = new Set()));
    set.add(key);
    this.dirtyServices.add(svc);
  }

  /** Recomputes what the noted changes bear on; answers the keys whose record changed, with the record or undefined (gone). */
  take(now: number, revision: string): Map<string, DesiredRecord | undefined> {
    const ctx = { ...this.ctx, now, revision };
    if (this.classesDirty) this.recomputeClasses(ctx);
    for (const k of this.dirtyIngresses) this.recomputeIngress(k, ctx);
    this.dirtyIngresses.clear();
    for (const k of this.dirtyServices) this.recomputeService(k, ctx);
    this.dirtyServices.clear();
    const out = new Map<string, DesiredRecord | undefined>();
    for (const k of this.changed) out.set(k, this.records.get(k));
    this.changed.clear();
    return out;
  }

  private recomputeClasses(ctx: TranslateContext): void {
    this.classesDirty = false;
    const keys = new Set<string>();
    for (const c of this.classes) {
      const key = objectKey(ctx.cluster, 'ingressclass', undefined, c.metadata?.name ?? '');
      keys.add(key);
      this.put(key, ingressClassRecord(c, ctx));
      this.setRefs(`class:${c.metadata?.name ?? ''}`, classService(c));
    }
    for (const k of this.classKeys) if (!keys.has(k)) this.put(k, undefined);
    this.classKeys = keys;
    for (const r of [...this.refsOf.keys()]) if (r.startsWith('class:') && !this.classes.some((c) => `class:${c.metadata?.name ?? ''}` === r)) this.setRefs(r, []);
    // Class membership of every Ingress may have changed.
    for (const k of this.ingresses.keys()) this.dirtyIngresses.add(k);
  }

  private recomputeIngress(k: string, ctx: TranslateContext): void {
    const [ns, name] = split(k);
    const key = objectKey(ctx.cluster, 'ingress', ns, name);
    const ing = this.ingresses.get(k);
    const mine = ing !== undefined && isInClass(ing, this.classes, ctx.ingressClass);
    this.put(key, mine ? ingressRecord(ing, ctx) : undefined);
    this.setRefs(`ingress:${k}`, mine ? servicesOf(ing) : []);
  }

  private recomputeService(k: string, ctx: TranslateContext): void {
    const [ns, name] = split(k);
    const svc = this.services.get(k);
    const wanted = svc !== undefined && (this.referrers.get(k)?.size ?? 0) > 0;
    const slices = [...(this.slicesOf.get(k) ?? [])].flatMap((s) => this.slices.get(s) ?? []);
    this.put(objectKey(ctx.cluster, 'service', ns, name), wanted ? serviceRecord(svc, ctx) : undefined);
    this.put(objectKey(ctx.cluster, 'endpoints', ns, name), wanted ? endpointsRecord(svc, slices, ctx, this.nodes) : undefined);
  }

  /** Records what a referrer references now; a Service that gains its first or loses its last referrer is recomputed. */
  private setRefs(referrer: string, services: string[]): void {
    const before = this.refsOf.get(referrer) ?? [];
    for (const s of before) {
      if (services.includes(s)) continue;
      const set = this.referrers.get(s);
      set?.delete(referrer);
      if (set?.size === 0) {
        this.referrers.delete(s);
        this.dirtyServices.add(s);
      }
    }
    for (const s of services) {
      let set = this.referrers.get(s);
      if (!set) this.referrers.set(s, (set = new Set()));
      if (set.size === 0) this.dirtyServices.add(s);
      set.add(referrer);
    }
    if (services.length > 0) this.refsOf.set(referrer, services);
    else this.refsOf.delete(referrer);
  }

  private put(key: string, record: DesiredRecord['record'] | undefined): void {
    const before = this.records.get(key);
    if (!record) {
      if (before) {
        this.records.delete(key);
        this.changed.add(key);
      }
      return;
    }
    const content = contentOf(record);
    if (before?.content === content) return;
    this.records.set(key, { key, record, content });
    this.changed.add(key);
  }
}
