import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1Node, V1Secret, V1Service } from '@kubernetes/client-node';
import { objectKey } from '@ingressfed/schemas';
import {
  SERVICE_NAME_LABEL, classService, contentOf, endpointsRecord, ingressClassRecord, ingressRecord, isInClass, serviceRecord, servicesOf, source,
  type ClusterObjects, type DesiredRecord, type TranslateContext,
} from './translate.js';
import { secretRecord, secretsOf } from './secrets.js';

// The records of one cluster kept up to date change by change: an Ingress change recomputes that
// Ingress (and the Services it starts or stops referencing), a Service or EndpointSlice change that
// Service's two records, a Secret change that Secret's record. Only IngressClass and Node changes
// recompute widely (every Ingress, or every Service), as they bear on all of them. desiredRecords()
// stays the reference it must equal.

type Kind = 'ingress' | 'service' | 'endpointslice' | 'secret';

/** Who references what: a target that gains its first referrer or loses its last is told to `onEdge` (its records appear or go). */
class References {
  private readonly referrers = new Map<string, Set<string>>();
  private readonly refsOf = new Map<string, string[]>();

  constructor(private readonly onEdge: (target: string) => void) {}

  has(target: string): boolean {
    return (this.referrers.get(target)?.size ?? 0) > 0;
  }

  /** The referrers that reference anything. */
  referrerNames(): string[] {
    return [...this.refsOf.keys()];
  }

  /** Records what a referrer references now. */
  set(referrer: string, targets: string[]): void {
    for (const t of this.refsOf.get(referrer) ?? []) {
      if (targets.includes(t)) continue;
      const set = this.referrers.get(t);
      set?.delete(referrer);
      if (set?.size === 0) {
        this.referrers.delete(t);
        this.onEdge(t);
      }
    }
    for (const t of targets) {
      let set = this.referrers.get(t);
      if (!set) this.referrers.set(t, (set = new Set()));
      if (set.size === 0) this.onEdge(t);
      set.add(referrer);
    }
    if (targets.length > 0) this.refsOf.set(referrer, targets);
    else this.refsOf.delete(referrer);
  }
}

const nsName = (o: { metadata?: { namespace?: string; name?: string } }): string => `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
const split = (k: string): [string, string] => {
  const i = k.indexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
};

/** What an Ingress names (its class, Services, endpoints, Secrets) ranks before it. */
const rankOf = (key: string): number => (key.split('.')[1] === 'ingress' ? 1 : 0);

/**
 * Keys in the order to publish them: Ingresses gone first, then what is written with what an Ingress
 * names before the Ingress, then what is gone that an Ingress named. So the hub never sees an Ingress
 * whose Services or Secrets are not there yet (nor loses them first), and no owner is told of a
 * problem that lasts only between two writes.
 */
export function publishOrder(keys: string[], present: (key: string) => boolean): string[] {
  const puts = keys.filter(present).sort((a, b) => rankOf(a) - rankOf(b));
  const gone = keys.filter((k) => !present(k));
  return [...gone.filter((k) => rankOf(k) === 1), ...puts, ...gone.filter((k) => rankOf(k) === 0)];
}

export class RecordTracker {
  private readonly ingresses = new Map<string, V1Ingress>();
  private readonly services = new Map<string, V1Service>();
  private readonly slices = new Map<string, V1EndpointSlice>();
  /** Service → the slices labelled with it (namespace/slice name). */
  private readonly slicesOf = new Map<string, Set<string>>();
  private readonly serviceOfSlice = new Map<string, string>();
  private readonly secrets = new Map<string, V1Secret>();
  private classes: V1IngressClass[] = [];
  private nodes: V1Node[] = [];
  /** The Services the Ingresses and classes reference; the Secrets the Ingresses name. */
  private readonly serviceRefs = new References((s) => this.dirtyServices.add(s));
  private readonly secretRefs = new References((s) => this.dirtySecrets.add(s));
  /** The current record of every key. */
  readonly records = new Map<string, DesiredRecord>();
  private readonly dirtyIngresses = new Set<string>();
  private readonly dirtyServices = new Set<string>();
  private readonly dirtySecrets = new Set<string>();
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
    for (const k of this.secrets.keys()) this.dirtySecrets.add(k);
    this.ingresses.clear();
    this.services.clear();
    this.secrets.clear();
    this.slices.clear();
    this.slicesOf.clear();
    this.serviceOfSlice.clear();
    for (const i of objs.ingresses) this.note('ingress', i, false);
    for (const s of objs.services) this.note('service', s, false);
    for (const s of objs.endpointSlices) this.note('endpointslice', s, false);
    for (const s of objs.secrets ?? []) this.note('secret', s, false);
    this.setClasses(objs.ingressClasses);
    this.nodes = [...(objs.nodes ?? [])];
  }

  /** One object added, updated or deleted (for IngressClasses and Nodes: pass the whole list). */
  note(kind: Kind, obj: V1Ingress | V1Service | V1EndpointSlice | V1Secret, deleted: boolean): void {
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
    } else {
      if (deleted) this.secrets.delete(key);
      else this.secrets.set(key, obj as V1Secret);
      this.dirtySecrets.add(key);
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
    for (const k of this.dirtySecrets) this.recomputeSecret(k, ctx);
    this.dirtySecrets.clear();
    const out = new Map<string, DesiredRecord | undefined>();
    for (const k of publishOrder([...this.changed], (k) => this.records.has(k))) out.set(k, this.records.get(k));
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
      this.serviceRefs.set(`class:${c.metadata?.name ?? ''}`, classService(c));
    }
    for (const k of this.classKeys) if (!keys.has(k)) this.put(k, undefined);
    this.classKeys = keys;
    for (const r of this.serviceRefs.referrerNames()) if (r.startsWith('class:') && !this.classes.some((c) => `class:${c.metadata?.name ?? ''}` === r)) this.serviceRefs.set(r, []);
    // Class membership of every Ingress may have changed.
    for (const k of this.ingresses.keys()) this.dirtyIngresses.add(k);
  }

  private recomputeIngress(k: string, ctx: TranslateContext): void {
    const [ns, name] = split(k);
    const key = objectKey(ctx.cluster, 'ingress', ns, name);
    const ing = this.ingresses.get(k);
    const mine = ing !== undefined && isInClass(ing, this.classes, ctx.ingressClass);
    this.put(key, mine ? ingressRecord(ing, ctx) : undefined);
    this.serviceRefs.set(`ingress:${k}`, mine ? servicesOf(ing) : []);
    this.secretRefs.set(`ingress:${k}`, mine ? secretsOf(ing) : []);
  }

  private recomputeService(k: string, ctx: TranslateContext): void {
    const [ns, name] = split(k);
    const svc = this.services.get(k);
    const wanted = svc !== undefined && this.serviceRefs.has(k);
    const slices = [...(this.slicesOf.get(k) ?? [])].flatMap((s) => this.slices.get(s) ?? []);
    this.put(objectKey(ctx.cluster, 'service', ns, name), wanted ? serviceRecord(svc, ctx) : undefined);
    this.put(objectKey(ctx.cluster, 'endpoints', ns, name), wanted ? endpointsRecord(svc, slices, ctx, this.nodes) : undefined);
  }

  private recomputeSecret(k: string, ctx: TranslateContext): void {
    const [ns, name] = split(k);
    const secret = this.secrets.get(k);
    const wanted = secret !== undefined && ctx.sealer !== undefined && this.secretRefs.has(k);
    if (!wanted) ctx.sealer?.forget(k);
    this.put(objectKey(ctx.cluster, 'secret', ns, name), wanted && ctx.sealer ? secretRecord(secret, ctx, ctx.sealer, source(secret.metadata)) : undefined);
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
