import { backendKey, ingressKey, type Backend, type BackendId, type Endpoint, type FederatedModel, type Route } from '../model/types.js';
import { backendName, routeOrder, type EdgePlan } from '../plan/plan.js';

// What the API shows, computed from the model and the edges' last plans. Pure.

export interface EdgeSnapshot {
  name: string;
  zone: string;
  plan: EdgePlan | undefined;
  /** Slot weight and health as the running HAProxy last reported them: backend → slot → values. */
  runtime?: Map<string, Map<string, { weight?: number | null; operational_state?: string }>>;
}

export const routeView = (r: Route) => ({
  host: r.host,
  path: r.path,
  pathType: r.pathType,
  backend: backendKey(r.backend),
  backendName: backendName(r.backend),
  sources: r.sources.map((s) => ({ cluster: s.cluster, namespace: s.namespace, name: s.name })),
});

export type RouteView = ReturnType<typeof routeView>;

export interface ServerView extends Endpoint {
  edges: Array<{ edge: string; slot: string; role: 'primary' | 'backup'; state: string; weight: number | null; health: string | null }>;
}

export function backendView(b: Backend, edges: EdgeSnapshot[]) {
  const name = backendName(b.id);
  const servers: ServerView[] = b.endpoints.map((e) => ({
    ...e,
    edges: edges.flatMap((edge) => {
      const planned = plannedFor(edge, b.id);
      const slot = planned?.slots.find((s) => s.endpoint && s.endpoint.cluster === e.cluster && s.address === e.address && s.port === e.port);
      if (!planned || !slot) return [];
      const rt = edge.runtime?.get(planned.name)?.get(slot.name);
      return [{ edge: edge.name, slot: slot.name, role: slot.backup ? 'backup' as const : 'primary' as const, state: slot.state,
        weight: rt?.weight ?? null, health: rt?.operational_state ?? null }];
    }),
  }));
  return {
    id: backendKey(b.id),
    name,
    namespace: b.id.namespace,
    service: b.id.service,
    port: b.id.port,
    failover: b.failover.kind === 'clusters' ? `clusters:${b.failover.order.join(',')}` : b.failover.kind,
    healthCheck: { path: b.health.path ?? null, intervalMs: b.health.intervalMs },
    clustersWithoutEndpoints: b.clusters,
    servers,
    refusedEndpoints: b.refused ?? [],
  };
}

export type BackendView = ReturnType<typeof backendView>;

/** The backend planned on an edge for a backend id: its own, or the spare that serves it. */
function plannedFor(edge: EdgeSnapshot, id: BackendId): EdgePlan['backends'][number] | undefined {
  const key = backendKey(id);
  return edge.plan?.backends.find((x) => x.id !== undefined && backendKey(x.id) === key);
}

/** Kubernetes host matching: exact (case-insensitive, port ignored), then `*.` one label, then none. */
function hostRoutes(routes: Route[], rawHost: string): { host: string; routes: Route[] } {
  const host = rawHost.toLowerCase().replace(/:\d+$/, '');
  const exact = routes.filter((r) => r.host === host);
  if (exact.length > 0) return { host, routes: exact };
  const dot = host.indexOf('.');
  const wild = dot > 0 ? routes.filter((r) => r.host === `*${host.slice(dot)}`) : [];
  if (wild.length > 0) return { host: wild[0]?.host ?? '', routes: wild };
  return { host: '', routes: routes.filter((r) => r.host === '') };
}

function pathMatches(r: Route, path: string): boolean {
  if (r.pathType === 'Exact') return path === r.path;
  return r.path === '/' || path === r.path || path.startsWith(`${r.path}/`);
}

/**
 * Which route, backend and servers a request for host + path would reach now, by the same rules the
 * edges are programmed with: the matched host's paths only (longest, Exact first), else the default
 * backend, else 404.
 */
export function explain(model: FederatedModel, edges: EdgeSnapshot[], host: string, path: string) {
  const candidates = hostRoutes(model.routes, host);
  const route = candidates.routes.sort(routeOrder).find((r) => pathMatches(r, path.split('?')[0] ?? '/'));
  const backendId = route?.backend ?? model.defaultRoute?.backend;
  const name = backendId ? backendName(backendId) : undefined;
  return {
    host,
    path,
    matchedBy: route ? 'route' as const : backendId ? 'default-backend' as const : 'none' as const,
    route: route ? routeView(route) : null,
    defaultBackendSource: !route && model.defaultRoute ? model.defaultRoute.source : null,
    backend: backendId ? backendKey(backendId) : null,
    backendName: name ?? null,
    status: backendId ? null : 404,
    edges: edges.map((edge) => {
      const slots = (backendId ? plannedFor(edge, backendId) : undefined)?.slots.filter((s) => s.endpoint) ?? [];
      const ready = (backup: boolean) => slots.filter((s) => s.backup === backup && s.state === 'ready');
      // HAProxy sends traffic to ready primaries; only when none is left, to every ready backup.
      const serving = ready(false).length > 0 ? ready(false) : ready(true);
      return {
        edge: edge.name,
        zone: edge.zone,
        servers: serving.map((s) => ({ slot: s.name, role: s.backup ? 'backup' : 'primary', cluster: s.endpoint?.cluster ?? '', zone: s.endpoint?.zone ?? null, address: s.address, port: s.port })),
      };
    }),
  };
}

export const conflictView = (c: FederatedModel['conflicts'][number]) => ({
  host: c.host,
  path: c.path,
  pathType: c.pathType,
  winner: { cluster: c.winner.cluster, namespace: c.winner.namespace, name: c.winner.name, backend: backendKey(c.winner.backend) },
  losers: c.losers.map((l) => ({ cluster: l.cluster, namespace: l.namespace, name: l.name, backend: backendKey(l.backend) })),
  reason: `the oldest Ingress wins: ${ingressKey(c.winner)} was created first`,
});
