// Kubernetes manifests for tests and the playground examples, as YAML-compatible JSON for kubectl.

export interface EndpointSpec {
  address: string;
  ready?: boolean;
  terminating?: boolean;
  zone?: string;
}

export const ingressClass = (name = 'ingressfed', isDefault = true): string => JSON.stringify({
  apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass',
  metadata: { name, annotations: isDefault ? { 'ingressclass.kubernetes.io/is-default-class': 'true' } : {} },
  spec: { controller: 'ingressfed.io/hub' },
});

export const service = (name: string, opts: { namespace?: string; port?: number; targetPort?: number; annotations?: Record<string, string>; type?: 'ClusterIP' | 'NodePort' } = {}): string => JSON.stringify({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name, namespace: opts.namespace ?? 'default', annotations: opts.annotations ?? {} },
  spec: { type: opts.type ?? 'ClusterIP', ports: [{ name: 'http', port: opts.port ?? 80, targetPort: opts.targetPort ?? 8080, protocol: 'TCP' }] },
});

export const endpointSlice = (service: string, endpoints: EndpointSpec[], opts: { namespace?: string; port?: number; name?: string } = {}): string => JSON.stringify({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: { name: opts.name ?? `${service}-1`, namespace: opts.namespace ?? 'default', labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: opts.port ?? 8080, protocol: 'TCP' }],
  endpoints: endpoints.map((e) => ({
    addresses: [e.address],
    conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: e.terminating ?? false },
    ...(e.zone ? { zone: e.zone } : {}),
  })),
});

export interface IngressPath {
  path: string;
  pathType?: 'Exact' | 'Prefix' | 'ImplementationSpecific';
  service: string;
  port?: number;
}

export const ingress = (name: string, rules: Array<{ host?: string; paths: IngressPath[] }>, opts: {
  namespace?: string; className?: string | null; annotations?: Record<string, string>; defaultBackend?: { service: string; port?: number };
  tls?: Array<{ hosts: string[]; secretName?: string }>;
} = {}): string => JSON.stringify({
  apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
  metadata: { name, namespace: opts.namespace ?? 'default', annotations: opts.annotations ?? {} },
  spec: {
    ...(opts.className === null ? {} : { ingressClassName: opts.className ?? 'ingressfed' }),
    ...(opts.defaultBackend ? { defaultBackend: { service: { name: opts.defaultBackend.service, port: { number: opts.defaultBackend.port ?? 80 } } } } : {}),
    rules: rules.map((r) => ({
      ...(r.host ? { host: r.host } : {}),
      http: { paths: r.paths.map((p) => ({ path: p.path, pathType: p.pathType ?? 'Prefix', backend: { service: { name: p.service, port: { number: p.port ?? 80 } } } })) },
    })),
    ...(opts.tls ? { tls: opts.tls } : {}),
  },
});

/** A Secret of type kubernetes.io/tls (or `type`) holding a certificate chain and key (PEM). */
export const tlsSecret = (name: string, cert: string, key: string, opts: { namespace?: string; type?: string } = {}): string => JSON.stringify({
  apiVersion: 'v1', kind: 'Secret', type: opts.type ?? 'kubernetes.io/tls',
  metadata: { name, namespace: opts.namespace ?? 'default' },
  data: { 'tls.crt': Buffer.from(cert).toString('base64'), 'tls.key': Buffer.from(key).toString('base64') },
});
