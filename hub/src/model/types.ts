import type { ClusterInfo, EndpointsRecord, Heartbeat, IngressClassRecord, IngressRecord, ServiceRecord } from '@ingressfed/schemas';

/** What the hub knows of one cluster, as read from the state bucket. */
export interface ClusterSnapshot {
  name: string;
  info: ClusterInfo | undefined;
  heartbeat: Heartbeat | undefined;
  ingressClasses: IngressClassRecord[];
  ingresses: IngressRecord[];
  services: ServiceRecord[];
  endpoints: EndpointsRecord[];
}

export type PathType = 'Exact' | 'Prefix';
export type FailoverPolicy = { kind: 'zone' } | { kind: 'none' } | { kind: 'clusters'; order: string[] };

/** Service identity across clusters (Multi-Cluster Services "sameness"): namespace, name, port. */
export interface BackendId {
  namespace: string;
  service: string;
  port: number;
}

export const backendKey = (b: BackendId): string => `${b.namespace}/${b.service}:${b.port}`;

export interface IngressRef {
  cluster: string;
  namespace: string;
  name: string;
}

export const ingressKey = (r: IngressRef): string => `${r.cluster}/${r.namespace}/${r.name}`;

export interface Route {
  /** '' for rules without a host; '*.x.y' for wildcards. */
  host: string;
  /** Normalized: Prefix paths lose their trailing slash, except '/'. */
  path: string;
  pathType: PathType;
  backend: BackendId;
  /** The Ingresses (any cluster) that declare this route with this backend. */
  sources: IngressRef[];
}

export interface DefaultRoute {
  backend: BackendId;
  /** The Ingress whose spec.defaultBackend it is, or the IngressClass whose default backend it is. */
  source: IngressRef | { cluster: string; ingressClass: string };
}

export interface Endpoint {
  cluster: string;
  zone: string | null;
  address: string;
  port: number;
  ready: boolean;
  terminating: boolean;
}

export interface HealthCheck {
  /** HTTP path of the active check; undefined: a TCP connect check. */
  path: string | undefined;
  intervalMs: number;
}

export interface Backend {
  id: BackendId;
  failover: FailoverPolicy;
  health: HealthCheck;
  endpoints: Endpoint[];
  /** Clusters that route to this backend but have no endpoints for it (yet). */
  clusters: string[];
  /** Endpoints the endpoint policy refused (present only when there are some). */
  refused?: RefusedEndpoint[];
}

/** An endpoint a cluster sent that no edge may connect to (see EndpointPolicy). */
export interface RefusedEndpoint {
  cluster: string;
  address: string;
  port: number;
  reason: string;
}

export interface Conflict {
  host: string;
  path: string;
  pathType: PathType;
  winner: IngressRef & { backend: BackendId };
  losers: Array<IngressRef & { backend: BackendId }>;
}

export type IngressState =
  | { state: 'accepted' }
  | { state: 'invalid'; reasons: string[] }
  | { state: 'conflicted'; reasons: string[] }
  | { state: 'ignored'; reasons: string[] };

export interface FederatedModel {
  routes: Route[];
  defaultRoute: DefaultRoute | undefined;
  backends: Backend[];
  conflicts: Conflict[];
  /** Per Ingress (key `cluster/namespace/name`), what the hub made of it. */
  ingresses: Map<string, IngressState>;
  /** Problems found in IngressClasses (key `cluster/class`). */
  classProblems: Map<string, string>;
}
