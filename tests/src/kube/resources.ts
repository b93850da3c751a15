/** A kind the Kubernetes API stand-in serves. */
export interface KubeResource {
  group: string; // '' for the core group
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  /** Top-level fields an object of this kind may have (strict field validation). */
  fields: string[];
  hasStatus: boolean;
}

const META = ['apiVersion', 'kind', 'metadata'];

export const RESOURCES: KubeResource[] = [
  { group: '', version: 'v1', kind: 'Namespace', listKind: 'NamespaceList', plural: 'namespaces', singular: 'namespace', namespaced: false, shortNames: ['ns'], fields: [...META, 'spec', 'status'], hasStatus: true },
  { group: '', version: 'v1', kind: 'Service', listKind: 'ServiceList', plural: 'services', singular: 'service', namespaced: true, shortNames: ['svc'], fields: [...META, 'spec', 'status'], hasStatus: true },
  { group: '', version: 'v1', kind: 'Secret', listKind: 'SecretList', plural: 'secrets', singular: 'secret', namespaced: true, shortNames: [], fields: [...META, 'data', 'stringData', 'type', 'immutable'], hasStatus: false },
  { group: '', version: 'v1', kind: 'Node', listKind: 'NodeList', plural: 'nodes', singular: 'node', namespaced: false, shortNames: ['no'], fields: [...META, 'spec', 'status'], hasStatus: true },
  { group: '', version: 'v1', kind: 'Event', listKind: 'EventList', plural: 'events', singular: 'event', namespaced: true, shortNames: ['ev'],
    fields: [...META, 'involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime', 'reportingComponent', 'reportingInstance', 'action', 'related', 'series'], hasStatus: false },
  { group: 'networking.k8s.io', version: 'v1', kind: 'Ingress', listKind: 'IngressList', plural: 'ingresses', singular: 'ingress', namespaced: true, shortNames: ['ing'], fields: [...META, 'spec', 'status'], hasStatus: true },
  { group: 'networking.k8s.io', version: 'v1', kind: 'IngressClass', listKind: 'IngressClassList', plural: 'ingressclasses', singular: 'ingressclass', namespaced: false, shortNames: [], fields: [...META, 'spec'], hasStatus: false },
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', listKind: 'EndpointSliceList', plural: 'endpointslices', singular: 'endpointslice', namespaced: true, shortNames: [], fields: [...META, 'addressType', 'endpoints', 'ports'], hasStatus: false },
];

export const groupVersion = (r: KubeResource): string => (r.group === '' ? r.version : `${r.group}/${r.version}`);

/** The URL prefix of a group version: `/api/v1` or `/apis/<group>/<version>`. */
export const gvPrefix = (r: { group: string; version: string }): string => (r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`);
