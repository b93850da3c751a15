import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

// The normalized records spokes write to the state bucket: only the fields the hub needs, never
// whole Kubernetes objects. Every string and list is bounded; the hub validates each record again.

export const SCHEMA_VERSION = 1;

const DnsLabel = Type.String({ pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', maxLength: 63 });
const DnsSubdomain = Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253 });
const Zone = Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$', maxLength: 63 });
const Epoch = Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' });
/** Annotations under ingressfed.io/ only; values are checked by their typed parsers in the hub. */
const Annotations = Type.Record(Type.String({ pattern: '^ingressfed\\.io/[a-z0-9.-]{1,63}$' }), Type.String({ maxLength: 4096 }), { maxProperties: 32 });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const PortName = Type.String({ pattern: '^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$', maxLength: 15 });
const IPv4 = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}';
const IPv6 = '[0-9a-fA-F:]{2,39}';
const IpAddress = Type.String({ pattern: `^(${IPv4}|${IPv6})$`, maxLength: 39 });

const Source = Type.Object({
  uid: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }),
  resourceVersion: Type.String({ pattern: '^[0-9]{1,20}$' }),
  creationTimestamp: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' }),
}, { additionalProperties: false });

const envelopeFields = {
  schema: Type.Literal(SCHEMA_VERSION),
  cluster: DnsLabel,
  epoch: Epoch,
  /** Spoke wall clock (ms) when the object was observed; used for latency figures only, never for ordering. */
  observedAt: Type.Integer({ minimum: 0 }),
  /**
   * Orders the records of one key: the highest resourceVersion the spoke had seen from its cluster's
   * API server when it made the record (list and watch alike). It never goes down for a key, across
   * spoke restarts too, since an API server's resourceVersions only grow; the hub refuses a record
   * older than the one it accepted (see compareRevisions).
   */
  revision: Type.String({ pattern: '^[0-9]{1,20}$' }),
  source: Source,
  name: DnsSubdomain,
};

function namespacedRecord<K extends string, S extends TSchema>(kind: K, spec: S) {
  return Type.Object({ ...envelopeFields, kind: Type.Literal(kind), namespace: DnsLabel, spec }, { additionalProperties: false });
}

function clusterRecord<K extends string, S extends TSchema>(kind: K, spec: S) {
  return Type.Object({ ...envelopeFields, kind: Type.Literal(kind), spec }, { additionalProperties: false });
}

export const BackendRef = Type.Union([
  Type.Object({
    service: Type.Object({
      name: DnsLabel,
      port: Type.Union([Type.Object({ number: Port }, { additionalProperties: false }), Type.Object({ name: PortName }, { additionalProperties: false })]),
    }, { additionalProperties: false }),
  }, { additionalProperties: false }),
  Type.Object({
    resource: Type.Object({ apiGroup: Type.Optional(Type.String({ maxLength: 253 })), kind: Type.String({ maxLength: 63 }), name: Type.String({ maxLength: 253 }) }, { additionalProperties: false }),
  }, { additionalProperties: false }),
]);

export const IngressSpec = Type.Object({
  /** spec.ingressClassName, else the legacy kubernetes.io/ingress.class annotation; null when neither. */
  className: Type.Union([Type.String({ maxLength: 253 }), Type.Null()]),
  annotations: Annotations,
  defaultBackend: Type.Union([BackendRef, Type.Null()]),
  rules: Type.Array(Type.Object({
    /** '' when the rule has no host. Validated by the hub with the host allowlist. */
    host: Type.String({ maxLength: 253 }),
    paths: Type.Array(Type.Object({
      path: Type.String({ maxLength: 1024 }),
      pathType: Type.Union([Type.Literal('Exact'), Type.Literal('Prefix'), Type.Literal('ImplementationSpecific')]),
      backend: BackendRef,
    }, { additionalProperties: false }), { maxItems: 256 }),
  }, { additionalProperties: false }), { maxItems: 256 }),
  tls: Type.Array(Type.Object({
    hosts: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 64 }),
    secretName: Type.Union([DnsSubdomain, Type.Null()]),
  }, { additionalProperties: false }), { maxItems: 64 }),
}, { additionalProperties: false });

export const IngressClassSpec = Type.Object({
  controller: Type.String({ maxLength: 253 }),
  isDefault: Type.Boolean(),
  annotations: Type.Optional(Annotations),
}, { additionalProperties: false });

export const ServiceSpec = Type.Object({
  type: Type.Union([Type.Literal('ClusterIP'), Type.Literal('NodePort'), Type.Literal('LoadBalancer'), Type.Literal('ExternalName')]),
  annotations: Annotations,
  ports: Type.Array(Type.Object({
    name: Type.Union([PortName, Type.Literal('')]),
    port: Port,
    protocol: Type.Union([Type.Literal('TCP'), Type.Literal('UDP'), Type.Literal('SCTP')]),
    targetPort: Type.Union([Port, PortName, Type.Null()]),
    nodePort: Type.Union([Port, Type.Null()]),
  }, { additionalProperties: false }), { maxItems: 64 }),
  loadBalancerIngress: Type.Array(IpAddress, { maxItems: 16 }),
}, { additionalProperties: false });

export const EndpointsSpec = Type.Object({
  /** One entry per endpoint address and port set, merged from all of the Service's EndpointSlices. */
  endpoints: Type.Array(Type.Object({
    address: IpAddress,
    ready: Type.Boolean(),
    serving: Type.Boolean(),
    terminating: Type.Boolean(),
    zone: Type.Union([Zone, Type.Null()]),
    nodeName: Type.Union([DnsSubdomain, Type.Null()]),
    ports: Type.Array(Type.Object({
      name: Type.Union([PortName, Type.Literal('')]),
      port: Port,
      protocol: Type.Union([Type.Literal('TCP'), Type.Literal('UDP'), Type.Literal('SCTP')]),
    }, { additionalProperties: false }), { maxItems: 64 }),
  }, { additionalProperties: false }), { maxItems: 4096 }),
}, { additionalProperties: false });

/** A private key sealed to the hub (see seal.ts): base64 fields of bounded length. */
const Base64 = (maxLength: number) => Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength });
export const SealedKey = Type.Object({
  alg: Type.Literal('X25519-HKDF-SHA256-A256GCM'),
  kid: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' }),
  epk: Base64(44),
  iv: Base64(16),
  ct: Base64(32768),
  tag: Base64(24),
}, { additionalProperties: false });

/**
 * A `kubernetes.io/tls` Secret named by an Ingress of the class: its certificate chain (PEM, leaf
 * first; public) and its private key sealed to the hub. The hub checks both again.
 */
export const SecretSpec = Type.Object({
  /** tls.crt as the Secret holds it (the hub parses it, and says what is wrong with it). */
  certificate: Type.String({ maxLength: 65536 }),
  key: SealedKey,
}, { additionalProperties: false });

export const IngressRecord = namespacedRecord('ingress', IngressSpec);
export const IngressClassRecord = clusterRecord('ingressclass', IngressClassSpec);
export const ServiceRecord = namespacedRecord('service', ServiceSpec);
export const EndpointsRecord = namespacedRecord('endpoints', EndpointsSpec);
export const SecretRecord = namespacedRecord('secret', SecretSpec);

export const ClusterInfo = Type.Object({
  schema: Type.Literal(SCHEMA_VERSION),
  cluster: DnsLabel,
  zone: Zone,
  region: Type.Union([Zone, Type.Null()]),
  endpointMode: Type.Union([Type.Literal('pod'), Type.Literal('nodeport'), Type.Literal('loadbalancer')]),
  spokeVersion: Type.String({ maxLength: 64 }),
  epoch: Epoch,
  startedAt: Type.Integer({ minimum: 0 }),
}, { additionalProperties: false });

export const Heartbeat = Type.Object({
  schema: Type.Literal(SCHEMA_VERSION),
  cluster: DnsLabel,
  epoch: Epoch,
  /** Spoke wall clock (ms); staleness is measured on the hub's clock from when a heartbeat arrives. */
  time: Type.Integer({ minimum: 0 }),
  objectCount: Type.Integer({ minimum: 0 }),
  /** sha256 over the sorted keys and record revisions the spoke has published. */
  digest: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  /** False while the spoke has not listed every kind successfully since it started. */
  synced: Type.Boolean(),
  /**
   * Present while the spoke cannot list or watch its Kubernetes API server: since when (spoke clock,
   * ms; compare it with `time`, never with another clock) and why. Absent when the source is fine.
   */
  sourceUnavailable: Type.Optional(Type.Object({
    since: Type.Integer({ minimum: 0 }),
    reason: Type.String({ maxLength: 256 }),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

export const IngressStatusRecord = Type.Object({
  schema: Type.Literal(SCHEMA_VERSION),
  cluster: DnsLabel,
  namespace: DnsLabel,
  name: DnsSubdomain,
  /** The Ingress uid the status was computed for; a recreated Ingress does not inherit it. */
  uid: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }),
  /** The edges' public addresses; empty while the Ingress is not served. */
  addresses: Type.Array(Type.Union([
    Type.Object({ ip: IpAddress }, { additionalProperties: false }),
    Type.Object({ hostname: DnsSubdomain }, { additionalProperties: false }),
  ]), { maxItems: 64 }),
  conditions: Type.Array(Type.Object({
    type: Type.Union([Type.Literal('Accepted'), Type.Literal('Invalid'), Type.Literal('Conflicted'), Type.Literal('Degraded')]),
    status: Type.Union([Type.Literal('True'), Type.Literal('False')]),
    reason: Type.String({ pattern: '^[A-Za-z]{1,64}$' }),
    message: Type.String({ maxLength: 8192 }),
  }, { additionalProperties: false }), { maxItems: 8 }),
}, { additionalProperties: false });

export type IngressStatusRecord = Static<typeof IngressStatusRecord>;
export type BackendRef = Static<typeof BackendRef>;
export type IngressSpec = Static<typeof IngressSpec>;
export type IngressClassSpec = Static<typeof IngressClassSpec>;
export type ServiceSpec = Static<typeof ServiceSpec>;
export type EndpointsSpec = Static<typeof EndpointsSpec>;
export type IngressRecord = Static<typeof IngressRecord>;
export type IngressClassRecord = Static<typeof IngressClassRecord>;
export type ServiceRecord = Static<typeof ServiceRecord>;
export type EndpointsRecord = Static<typeof EndpointsRecord>;
export type SecretSpec = Static<typeof SecretSpec>;
export type SecretRecord = Static<typeof SecretRecord>;
export type ClusterInfo = Static<typeof ClusterInfo>;
export type Heartbeat = Static<typeof Heartbeat>;
export type ObjectRecord = IngressRecord | IngressClassRecord | ServiceRecord | EndpointsRecord | SecretRecord;

/** Orders two revisions (decimal strings of up to 20 digits): negative, zero or positive. */
export function compareRevisions(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  return x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0;
}

export const validators = {
  ingress: Compile(IngressRecord),
  ingressclass: Compile(IngressClassRecord),
  service: Compile(ServiceRecord),
  endpoints: Compile(EndpointsRecord),
  secret: Compile(SecretRecord),
  info: Compile(ClusterInfo),
  heartbeat: Compile(Heartbeat),
  status: Compile(IngressStatusRecord),
};
