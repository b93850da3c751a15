// The IngressClass controller name and the annotations ingressfed reads: one definition for the
// spoke (which publishes them) and the hub (which validates and applies them).

/** `spec.controller` of the IngressClasses ingressfed serves. */
export const CONTROLLER = 'ingressfed.io/hub';

export const ANNOTATIONS = {
  /** Ingress: zone (default), none, or an ordered cluster list. */
  failover: 'ingressfed.io/failover',
  /** Ingress: HTTP path of the active health check. */
  healthCheckPath: 'ingressfed.io/health-check-path',
  /** Ingress: active health check period, e.g. 500ms, 2s. */
  healthCheckInterval: 'ingressfed.io/health-check-interval',
  /** Ingress: "false" keeps plain HTTP to its TLS hosts (default "true": redirected to HTTPS). */
  sslRedirect: 'ingressfed.io/ssl-redirect',
  /** IngressClass: namespace/service:port serving requests no rule matches. */
  classDefaultBackend: 'ingressfed.io/default-backend',
  /** Service: pod, nodeport or loadbalancer. */
  endpointMode: 'ingressfed.io/endpoint-mode',
} as const;
