import Fastify from 'fastify';
import type { Hub } from '../hub.js';
import { backendKey } from '../model/types.js';

/**
 * The hub's HTTP API (first part): health, readiness after startup gating, and the merged state.
 * Handlers only read from the hub; nothing here changes state.
 */
export function buildHubApi(hub: Hub) {
  const app = Fastify({ logger: false });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    if (!hub.ready) return reply.code(503).send({ status: 'not ready', reason: 'the state bucket has not been read completely yet' });
    return { status: 'ready' };
  });

  app.get('/api/v1/state', async () => {
    const m = hub.currentModel();
    return {
      ready: hub.ready,
      clusters: hub.clusters(),
      routes: (m?.routes ?? []).map((r) => ({ host: r.host, path: r.path, pathType: r.pathType, backend: backendKey(r.backend), sources: r.sources })),
      defaultRoute: m?.defaultRoute ? { backend: backendKey(m.defaultRoute.backend), source: m.defaultRoute.source } : null,
      backends: (m?.backends ?? []).map((b) => ({ id: backendKey(b.id), failover: b.failover, endpoints: b.endpoints, clustersWithoutEndpoints: b.clusters })),
      conflicts: m?.conflicts ?? [],
      ingresses: Object.fromEntries(m?.ingresses ?? []),
      classProblems: Object.fromEntries(m?.classProblems ?? []),
      refused: [...hub.intake.refused.values()],
      edges: hub.edgeStatus().map((e) => ({
        edge: e.edge, applies: e.applies, transactions: e.transactions, lastError: e.lastError ?? null,
        lastApply: e.last ? { transaction: e.last.transaction, version: e.last.version ?? null, reloadId: e.last.reloadId ?? null, runtimeChanges: e.last.runtimeChanges, durationMs: e.last.durationMs } : null,
      })),
    };
  });

  return app;
}

export type HubApi = ReturnType<typeof buildHubApi>;
