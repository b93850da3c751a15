import type { V1EndpointSlice, V1Ingress, V1IngressBackend, V1IngressClass, V1Node, V1Secret, V1Service } from '@kubernetes/client-node';
import {
  ANNOTATIONS, CONTROLLER, SCHEMA_VERSION, objectKey,
  type BackendRef, type EndpointsRecord, type IngressClassRecord, type IngressRecord, type ObjectRecord, type ServiceRecord,
} from '@ingressfed/schemas';
import { secretRecord, secretsOf, type KeySealer } from './secrets.js';

// Kubernetes objects → normalized records. Pure: the spoke's watchers feed it their caches and
// publish what it returns. The hub validates every record again.

const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
const OWN_PREFIX = 'ingressfed.io/';

export interface TranslateContext {
  cluster: string;
  epoch: string;
  now: number;
  /** The highest resourceVersion seen from the API server when the records are made (see the record's `revision`). */
  revision: string;
  /** Serve only this IngressClass (it must be one of ingressfed's); undefined: every ingressfed class. */
  ingressClass?: string;
  /** How Services are reached, unless a Service's `ingressfed.io/endpoint-mode` says otherwise (default pod). */
  endpointMode?: EndpointMode;
  /** Seals TLS Secrets' keys to the hub; without it no Secret is published. */
  sealer?: KeySealer;
}

export type EndpointMode = 'pod' | 'nodeport' | 'loadbalancer';
const ENDPOINT_MODE_ANNOTATION = ANNOTATIONS.endpointMode;

export interface ClusterObjects {
  ingressClasses: V1IngressClass[];
  ingresses: V1Ingress[];
  services: V1Service[];
  endpointSlices: V1EndpointSlice[];
  nodes?: V1Node[];
  /** `kubernetes.io/tls` Secrets (the spoke lists no other type). */
  secrets?: V1Secret[];
}

export interface DesiredRecord {
  key: string;
  record: ObjectRecord;
  /** JSON of the record without epoch and observedAt: what "unchanged" is judged on. */
  content: string;
}

type Meta = { uid?: string; resourceVersion?: string; creationTimestamp?: Date | string; name?: string; namespace?: string; annotations?: Record<string, string> };

export function source(m: Meta | undefined): { uid: string; resourceVersion: string; creationTimestamp: string } {
  const ts = m?.creationTimestamp;
  const iso = ts instanceof Date ? ts.toISOString() : typeof ts === 'string' ? ts : new Date(0).toISOString();
  return { uid: m?.uid ?? '', resourceVersion: m?.resourceVersion ?? '0', creationTimestamp: iso.replace(/\.\d+Z$/, 'Z') };
}

function ownAnnotations(a: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a ?? {})) if (k.startsWith(OWN_PREFIX)) out[k] = v;
  return out;
}

/** The class an Ingress asks for: spec.ingressClassName, else the legacy annotation, else null. */
export function requestedClass(ing: V1Ingress): string | null {
  return ing.spec?.ingressClassName ?? ing.metadata?.annotations?.[LEGACY_CLASS_ANNOTATION] ?? null;
}

export function isDefaultClass(c: V1IngressClass): boolean {
  return c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true';
}

/**
 * Whether an Ingress belongs to ingressfed: its class is one of ours, or it names none and the
 * cluster has exactly one default class, which is ours (more than one default: Kubernetes refuses
 * such Ingresses, and so do we).
 */
export function isInClass(ing: V1Ingress, classes: V1IngressClass[], only?: string): boolean {
  const ours = (c: V1IngressClass | undefined): boolean => c?.spec?.controller === CONTROLLER && (only === undefined || c.metadata?.name === only);
  const wanted = requestedClass(ing);
  if (wanted !== null) return ours(classes.find((c) => c.metadata?.name === wanted));
  // No class: ours when a default class is ours. With several default classes the hub refuses the
  // Ingress with a reason (as Kubernetes does), so it is published for the hub to say so.
  return classes.filter(isDefaultClass).some(ours);
}

/** The Services (namespace/name) an Ingress's backends name. */
export function servicesOf(ing: V1Ingress): string[] {
  const ns = ing.metadata?.namespace ?? 'default';
  const backends = [ing.spec?.defaultBackend, ...(ing.spec?.rules ?? []).flatMap((r) => (r.http?.paths ?? []).map((p) => p.backend))];
  return [...new Set(backends.flatMap((b) => (b?.service?.name ? [`${ns}/${b.service.name}`] : [])))];
}

/** The Service an ingressfed IngressClass names as its default backend, if any. */
export function classService(c: V1IngressClass): string[] {
  const m = /^([a-z0-9-]+)\/([a-z0-9-]+):\d+$/.exec(c.metadata?.annotations?.[ANNOTATIONS.classDefaultBackend] ?? '');
  return c.spec?.controller === CONTROLLER && m ? [`${m[1]}/${m[2]}`] : [];
}

function backendRef(b: V1IngressBackend | undefined): BackendRef | null {
  if (!b) return null;
  if (b.service) {
    const p = b.service.port;
    return { service: { name: b.service.name, port: p?.name ? { name: p.name } : { number: p?.number ?? 0 } } };
  }
  if (b.resource) return { resource: { apiGroup: b.resource.apiGroup, kind: b.resource.kind, name: b.resource.name } };
  return null;
}

export function ingressRecord(ing: V1Ingress, ctx: TranslateContext): IngressRecord {
  return {
    schema: SCHEMA_VERSION, cluster: ctx.cluster, kind: 'ingress', epoch: ctx.epoch, observedAt: ctx.now, revision: ctx.revision,
    source: source(ing.metadata), namespace: ing.metadata?.namespace ?? 'default', name: ing.metadata?.name ?? '',
    spec: {
      className: requestedClass(ing),
      annotations: ownAnnotations(ing.metadata?.annotations),
      defaultBackend: backendRef(ing.spec?.defaultBackend),
      rules: (ing.spec?.rules ?? []).map((r) => ({
        host: r.host ?? '',
        paths: (r.http?.paths ?? []).map((p) => ({
          path: p.path ?? '/',
          pathType: (p.pathType ?? 'ImplementationSpecific') as 'Exact' | 'Prefix' | 'ImplementationSpecific',
          backend: backendRef(p.backend) ?? { service: { name: '', port: { number: 0 } } },
        })),
      })),
      tls: (ing.spec?.tls ?? []).map((t) => ({ hosts: t.hosts ?? [], secretName: t.secretName ?? null })),
    },
  };
}

export function ingressClassRecord(c: V1IngressClass, ctx: TranslateContext): IngressClassRecord {
  return {
    schema: SCHEMA_VERSION, cluster: ctx.cluster, kind: 'ingressclass', epoch: ctx.epoch, observedAt: ctx.now, revision: ctx.revision,
    source: source(c.metadata), name: c.metadata?.name ?? '',
    spec: { controller: c.spec?.controller ?? '', isDefault: isDefaultClass(c), annotations: ownAnnotations(c.metadata?.annotations) },
  };
}

export function serviceRecord(s: V1Service, ctx: TranslateContext): ServiceRecord {
  const lb = (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => typeof ip === 'string');
  return {
    schema: SCHEMA_VERSION, cluster: ctx.cluster, kind: 'service', epoch: ctx.epoch, observedAt: ctx.now, revision: ctx.revision,
    source: source(s.metadata), namespace: s.metadata?.namespace ?? 'default', name: s.metadata?.name ?? '',
    spec: {
      type: (s.spec?.type ?? 'ClusterIP') as ServiceRecord['spec']['type'],
      annotations: ownAnnotations(s.metadata?.annotations),
      ports: (s.spec?.ports ?? []).map((p) => ({
        name: p.name ?? '',
        port: p.port,
        protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP',
        targetPort: p.targetPort === undefined ? null : (p.targetPort as number | string),
        nodePort: p.nodePort ?? null,
      })),
      loadBalancerIngress: lb,
    },
  };
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

const ZONE_LABEL = 'topology.kubernetes.io/zone';
const isIpLiteral = (a: string): boolean => /^(\d{1,3}\.){3}\d{1,3}$/.test(a) || /^[0-9a-fA-F:]+$/.test(a);

/** The endpoint mode of a Service: its annotation, else the spoke's. An unknown value falls back to the spoke's. */
export function endpointModeOf(svc: V1Service, ctx: TranslateContext): EndpointMode {
  const v = svc.metadata?.annotations?.[ENDPOINT_MODE_ANNOTATION];
  return v === 'pod' || v === 'nodeport' || v === 'loadbalancer' ? v : ctx.endpointMode ?? 'pod';
}

/** Endpoints of a Service reached through its nodePorts: every Ready node's InternalIP. */
function nodePortEndpoints(svc: V1Service, nodes: V1Node[]): EndpointsRecord['spec']['endpoints'] {
  const ports = (svc.spec?.ports ?? []).filter((p) => typeof p.nodePort === 'number')
    .map((p) => ({ name: p.name ?? '', port: p.nodePort as number, protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP' }));
  if (ports.length === 0) return [];
  const out: EndpointsRecord['spec']['endpoints'] = [];
  for (const n of nodes) {
    const address = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (!address || !isIpLiteral(address)) continue;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && n.spec?.unschedulable !== true;
    out.push({ address, ready, serving: ready, terminating: false, zone: n.metadata?.labels?.[ZONE_LABEL] ?? null, nodeName: n.metadata?.name ?? null, ports });
  }
  return out;
}

/** Endpoints of a Service reached through its load balancer: its load-balancer IPs with the Service ports. */
function loadBalancerEndpoints(svc: V1Service): EndpointsRecord['spec']['endpoints'] {
  const ports = (svc.spec?.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port, protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP' }));
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => typeof ip === 'string' && isIpLiteral(ip))
    .map((address) => ({ address, ready: true, serving: true, terminating: false, zone: null, nodeName: null, ports }));
}

/**
 * One endpoints record per Service. In `pod` mode it is merged from all the Service's IP
 * EndpointSlices (FQDN slices are not used); `nodeport` and `loadbalancer` reach it from outside.
 */
export function endpointsRecord(svc: V1Service, slices: V1EndpointSlice[], ctx: TranslateContext, nodes: V1Node[] = []): EndpointsRecord {
  const mode = endpointModeOf(svc, ctx);
  if (mode !== 'pod') {
    const eps = mode === 'nodeport' ? nodePortEndpoints(svc, nodes) : loadBalancerEndpoints(svc);
    eps.sort((a, b) => a.address.localeCompare(b.address));
    const rv = [svc, ...(mode === 'nodeport' ? nodes : [])].reduce((m, o) => {
      const v = BigInt(o.metadata?.resourceVersion ?? '0');
      return v > m ? v : m;
    }, 0n);
    return {
      schema: SCHEMA_VERSION, cluster: ctx.cluster, kind: 'endpoints', epoch: ctx.epoch, observedAt: ctx.now, revision: ctx.revision,
      source: { ...source(svc.metadata), resourceVersion: rv.toString() },
      namespace: svc.metadata?.namespace ?? 'default', name: svc.metadata?.name ?? '',
      spec: { endpoints: eps },
    };
  }
  const ns = svc.metadata?.namespace ?? 'default';
  const name = svc.metadata?.name ?? '';
  const mine = slices
    .filter((s) => s.metadata?.namespace === ns && s.metadata?.labels?.[SERVICE_NAME_LABEL] === name && (s.addressType === 'IPv4' || s.addressType === 'IPv6'))
    .sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
  const endpoints: EndpointsRecord['spec']['endpoints'] = [];
  const seen = new Set<string>();
  let rv = BigInt(svc.metadata?.resourceVersion ?? '0');
  for (const slice of mine) {
    const sliceRv = BigInt(slice.metadata?.resourceVersion ?? '0');
    if (sliceRv > rv) rv = sliceRv;
    const ports = (slice.ports ?? []).filter((p) => typeof p.port === 'number').map((p) => ({
      name: p.name ?? '', port: p.port as number, protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP',
    }));
    for (const ep of slice.endpoints ?? []) {
      for (const address of ep.addresses ?? []) {
        const id = `${address}|${JSON.stringify(ports)}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const ready = ep.conditions?.ready ?? true;
        endpoints.push({
          address,
          ready,
          serving: ep.conditions?.serving ?? ready,
          terminating: ep.conditions?.terminating ?? false,
          zone: ep.zone ?? null,
          nodeName: ep.nodeName ?? null,
          ports,
        });
      }
    }
  }
  endpoints.sort((a, b) => a.address.localeCompare(b.address) || JSON.stringify(a.ports).localeCompare(JSON.stringify(b.ports)));
  return {
    schema: SCHEMA_VERSION, cluster: ctx.cluster, kind: 'endpoints', epoch: ctx.epoch, observedAt: ctx.now, revision: ctx.revision,
    source: { ...source(svc.metadata), resourceVersion: rv.toString() },
    namespace: ns, name,
    spec: { endpoints },
  };
}

/** What "unchanged" is judged on: the record without when and by which spoke process it was made. */
export function contentOf(r: ObjectRecord): string {
  const { epoch: _e, observedAt: _o, revision: _r, ...rest } = r;
  return JSON.stringify(rest);
}

/**
 * Everything the spoke should have in the state bucket for this cluster: every IngressClass, the
 * in-class Ingresses, the Services (with their endpoints) those Ingresses reference, and (with a
 * sealer) the TLS Secrets they name.
 */
export function desiredRecords(objs: ClusterObjects, ctx: TranslateContext): DesiredRecord[] {
  const out: DesiredRecord[] = [];
  const add = (key: string, record: ObjectRecord): void => {
    out.push({ key, record, content: contentOf(record) });
  };
  for (const c of objs.ingressClasses) add(objectKey(ctx.cluster, 'ingressclass', undefined, c.metadata?.name ?? ''), ingressClassRecord(c, ctx));
  const referenced = new Set(objs.ingressClasses.flatMap(classService));
  for (const ing of objs.ingresses) {
    if (!isInClass(ing, objs.ingressClasses, ctx.ingressClass)) continue;
    add(objectKey(ctx.cluster, 'ingress', ing.metadata?.namespace ?? 'default', ing.metadata?.name ?? ''), ingressRecord(ing, ctx));
    for (const svc of servicesOf(ing)) referenced.add(svc);
  }
  for (const svc of objs.services) {
    const ns = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    if (!referenced.has(`${ns}/${name}`)) continue;
    add(objectKey(ctx.cluster, 'service', ns, name), serviceRecord(svc, ctx));
    add(objectKey(ctx.cluster, 'endpoints', ns, name), endpointsRecord(svc, objs.endpointSlices, ctx, objs.nodes ?? []));
  }
  const named = new Set(objs.ingresses.filter((i) => isInClass(i, objs.ingressClasses, ctx.ingressClass)).flatMap(secretsOf));
  for (const secret of ctx.sealer ? objs.secrets ?? [] : []) {
    const ns = secret.metadata?.namespace ?? 'default';
    const name = secret.metadata?.name ?? '';
    const record = named.has(`${ns}/${name}`) ? secretRecord(secret, ctx, ctx.sealer as KeySealer, source(secret.metadata)) : undefined;
    if (record) add(objectKey(ctx.cluster, 'secret', ns, name), record);
  }
  return out;
}
