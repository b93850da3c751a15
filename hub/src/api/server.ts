import { timingSafeEqual } from 'node:crypto';
import swagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import Type from 'typebox';
import { ERROR_CODES, type ErrorCode } from '@ingressfed/schemas';
import type { Hub } from '../hub.js';
import { backendKey } from '../model/types.js';
import { EXPIRY_WARNING_DAYS } from '../certificates.js';
import { backendView, conflictView, explain, routeView, type EdgeSnapshot } from './views.js';

export interface ApiToken {
  name: string;
  token: string;
  role: 'read' | 'admin';
}

export const API_PREFIX = '/api/v1';

const Name = Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$', maxLength: 63 });
const Items = Type.Object({ items: Type.Array(Type.Unknown()) });
const ErrorBody = Type.Object({ statusCode: Type.Integer(), code: Type.String(), message: Type.String() });
const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody };

class ApiError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

const fail = (code: ErrorCode, message: string): never => {
  throw new ApiError(code, message);
};

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The hub's HTTP API: health and readiness (open), everything else behind bearer tokens with a read
 * or an admin role. Handlers only translate HTTP to hub calls and views.
 */
/** `https`: PEM certificate (chain) and key; the API is then served over HTTPS only. */
export async function buildHubApi(hub: Hub, tokens: ApiToken[], opts: { https?: { cert: string; key: string } } = {}) {
  const app = Fastify({ logger: false, ajv: { customOptions: { allErrors: false } }, ...(opts.https ? { https: opts.https } : {}) })
    .setValidatorCompiler(TypeBoxValidatorCompiler)
    .withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'ingressfed hub API', version: '1.0.0', description: 'The merged state of every cluster, and drains.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err instanceof ApiError) {
      return reply.code(ERROR_CODES[err.code].status).send({ statusCode: ERROR_CODES[err.code].status, code: err.code, message: err.message });
    }
    if (err.validation || err.statusCode === 400) {
      return reply.code(400).send({ statusCode: 400, code: 'INGRESSFED_ERR_API_BAD_REQUEST', message: err.message });
    }
    if (err.statusCode === 404) return reply.code(404).send({ statusCode: 404, code: 'INGRESSFED_ERR_API_NOT_FOUND', message: 'no such route' });
    return reply.code(500).send({ statusCode: 500, code: 'INGRESSFED_ERR_API_INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ statusCode: 404, code: 'INGRESSFED_ERR_API_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]?.slice(0, 200)}` });
  });

  const authorize = (role: 'read' | 'admin') => async (req: FastifyRequest, reply: FastifyReply) => {
    const h = req.headers.authorization;
    const given = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : undefined;
    if (!given) {
      reply.header('WWW-Authenticate', 'Bearer realm="ingressfed"');
      fail('INGRESSFED_ERR_API_UNAUTHENTICATED', 'a bearer token is required (Authorization: Bearer TOKEN)');
    }
    const t = tokens.find((x) => sameSecret(x.token, given as string));
    if (!t) {
      reply.header('WWW-Authenticate', 'Bearer realm="ingressfed", error="invalid_token"');
      fail('INGRESSFED_ERR_API_UNAUTHENTICATED', 'the bearer token is not known');
    }
    if (role === 'admin' && t?.role !== 'admin') fail('INGRESSFED_ERR_API_FORBIDDEN', `token '${t?.name}' has the read role; this needs admin`);
  };
  const read = { preHandler: authorize('read') };
  const admin = { preHandler: authorize('admin') };
  const needModel = () => hub.currentModel() ?? fail('INGRESSFED_ERR_API_NOT_READY', 'the hub has not read every cluster yet');
  const edgeSnapshots = (): EdgeSnapshot[] => hub.edgeStatus().map((e) => ({ name: e.edge, zone: e.zone, plan: e.last?.plan, runtime: e.runtime }));

  app.get('/healthz', { schema: { security: [], response: { 200: Type.Object({ status: Type.String() }) } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { security: [], response: { 200: Type.Object({ status: Type.String() }), 503: ErrorBody } } }, async () => {
    const why = hub.notReady();
    if (why) fail('INGRESSFED_ERR_API_NOT_READY', why);
    return { status: 'ready' };
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/metrics', { ...read, schema: { description: 'Prometheus metrics', produces: ['text/plain'], response: { 200: Type.String(), ...errors } } }, async (_req, reply) => {
    reply.type(hub.metrics.registry.contentType);
    return hub.metrics.registry.metrics();
  });

  const quarantineView = () => hub.quarantine.list().map((q) => ({
    key: q.key, cluster: q.cluster, edge: q.edge, reason: q.reason, since: new Date(q.since).toISOString(), serving: q.good ? 'last-good' : 'none',
  }));
  const clusterView = (name: string) => {
    const snap = hub.intake.snapshots().find((s) => s.name === name);
    const st = hub.clusters().find((c) => c.name === name);
    if (!snap || !st) return undefined;
    return {
      name,
      zone: snap.info?.zone ?? null,
      region: snap.info?.region ?? null,
      state: st.state,
      heartbeatAgeMs: st.heartbeatAgeMs ?? null,
      // The spoke's clock less the hub's (its heartbeats' transit included); nothing depends on it.
      clockOffsetMs: st.clockOffsetMs ?? null,
      sourceUnavailable: st.sourceUnavailable ?? null,
      synced: snap.heartbeat?.synced ?? null,
      // Whether its keys in the state bucket match the digest its spoke published (null before a heartbeat).
      recordsInSync: hub.intake.inSync(name) ?? null,
      spokeVersion: snap.info?.spokeVersion ?? null,
      endpointMode: snap.info?.endpointMode ?? null,
      objects: { ingressClasses: snap.ingressClasses.length, ingresses: snap.ingresses.length, services: snap.services.length, endpoints: snap.endpoints.length },
      drained: hub.drainList().some((d) => (d.kind === 'cluster' && d.name === name) || (d.kind === 'zone' && d.name === snap.info?.zone)),
      refused: [...hub.intake.refused.values()].filter((r) => r.cluster === name).map((r) => ({ key: r.key, reason: r.reason })),
      quarantined: quarantineView().filter((q) => q.cluster === name),
      refusedEndpoints: (hub.currentModel()?.backends ?? []).flatMap((b) => (b.refused ?? []).filter((e) => e.cluster === name)
        .map((e) => ({ backend: backendKey(b.id), address: e.address, port: e.port, reason: e.reason }))),
    };
  };

  app.get(`${API_PREFIX}/clusters`, { ...read, schema: { description: 'Clusters: zone, state, heartbeat, objects, refused records', response: { 200: Items, ...errors } } },
    async () => ({ items: hub.clusters().map((c) => clusterView(c.name)) }));
  app.get(`${API_PREFIX}/clusters/:name`, { ...read, schema: { params: Type.Object({ name: Name }), response: { 200: Type.Unknown(), ...errors } } },
    async (req) => clusterView(req.params.name) ?? fail('INGRESSFED_ERR_API_NOT_FOUND', `cluster ${req.params.name} not found`));
  app.get(`${API_PREFIX}/routes`, { ...read, schema: { description: 'Routes, optionally of one host', querystring: Type.Object({ host: Type.Optional(Type.String({ maxLength: 253, pattern: '^[a-z0-9*.-]*$' })) }), response: { 200: Items, ...errors } } },
    async (req) => ({ items: needModel().routes.filter((r) => req.query.host === undefined || r.host === req.query.host).map(routeView) }));
  app.get(`${API_PREFIX}/backends`, { ...read, schema: { description: 'Backends: servers per cluster and zone, primary/backup and state per edge', response: { 200: Items, ...errors } } },
    async () => ({ items: needModel().backends.map((b) => backendView(b, edgeSnapshots())) }));
  app.get(`${API_PREFIX}/conflicts`, { ...read, schema: { response: { 200: Items, ...errors } } }, async () => ({ items: needModel().conflicts.map(conflictView) }));
  app.get(`${API_PREFIX}/certificates`, {
    ...read,
    schema: {
      description: 'TLS certificates the clusters publish or their Ingresses name: subject, issuer, SANs, validity, source, who uses them, and why one cannot be served',
      querystring: Type.Object({ expiringWithinDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 3650 })) }),
      response: { 200: Items, ...errors },
    },
  }, async (req) => {
    const now = Date.now();
    const within = req.query.expiringWithinDays;
    const views = hub.certificateViews(now).filter((c) => within === undefined || (c.notAfter !== null && c.notAfter - now <= within * 86_400_000));
    return {
      items: views.map((c) => ({
        ...c, notBefore: c.notBefore === null ? null : new Date(c.notBefore).toISOString(), notAfter: c.notAfter === null ? null : new Date(c.notAfter).toISOString(),
        expiresInDays: c.notAfter === null ? null : Math.floor((c.notAfter - now) / 86_400_000),
        expiringSoon: c.notAfter !== null && c.notAfter - now <= EXPIRY_WARNING_DAYS * 86_400_000,
      })),
    };
  });
  app.get(`${API_PREFIX}/edges`, { ...read, schema: { description: 'Edges: zone, configuration version, last apply, reloads, errors', response: { 200: Items, ...errors } } }, async () => ({
    items: hub.edgeStatus().map((e) => ({
      name: e.edge, zone: e.zone, configurationVersion: e.configurationVersion ?? null,
      applies: e.applies, reloads: e.transactions, lastError: e.lastError ?? null, lastReload: hub.reloadOf(e.edge) ?? null,
      failingSince: e.failingSince === undefined ? null : new Date(e.failingSince).toISOString(), pendingChanges: e.pendingChanges,
      lastApply: e.last ? { at: e.lastAt ? new Date(e.lastAt).toISOString() : null, transaction: e.last.transaction, reloadId: e.last.reloadId ?? null, runtimeChanges: e.last.runtimeChanges, durationMs: e.last.durationMs } : null,
    })),
  }));
  app.get(`${API_PREFIX}/explain`, {
    ...read,
    schema: {
      description: 'Which route, backend and servers serve a host and path now',
      querystring: Type.Object({ host: Type.String({ minLength: 1, maxLength: 260, pattern: '^[A-Za-z0-9.*-]+(:[0-9]{1,5})?$' }), path: Type.String({ minLength: 1, maxLength: 2048, pattern: '^/' }) }),
      response: { 200: Type.Unknown(), ...errors },
    },
  }, async (req) => explain(needModel(), edgeSnapshots(), req.query.host, req.query.path));

  const DrainParams = Type.Object({ kind: Type.Union([Type.Literal('cluster'), Type.Literal('zone')]), name: Name });
  const drainsView = () => {
    const sessions = hub.drainSessions();
    const draining = hub.edgeStatus().flatMap((e) => (e.last?.plan.backends ?? []).flatMap((b) => b.slots.filter((s) => s.drained).map((s) => ({ edge: e.edge, backend: b.name, slot: s.name, cluster: s.endpoint?.cluster ?? null, zone: s.endpoint?.zone ?? null, address: s.address, port: s.port }))));
    return hub.drainList().map((d) => {
      const mine = draining.filter((x) => (d.kind === 'cluster' ? x.cluster === d.name : x.zone === d.name))
        .map((x) => ({ ...x, sessions: sessions.find((s) => s.edge === x.edge && s.backend === x.backend && s.slot === x.slot)?.sessions ?? null }));
      // Complete once every edge applied a plan made after the drain (an apply that started after it)
      // and no drained server is left.
      const applied = hub.edgeStatus().every((e) => (e.lastStartedAt ?? 0) > d.since);
      return { kind: d.kind, name: d.name, since: new Date(d.since).toISOString(), draining: mine, applied, complete: applied && mine.length === 0 };
    });
  };
  app.get(`${API_PREFIX}/drains`, { ...read, schema: { description: 'Drains and their progress: servers still draining and their sessions', response: { 200: Items, ...errors } } }, async () => ({ items: drainsView() }));
  app.put(`${API_PREFIX}/drains/:kind/:name`, { ...admin, schema: { description: 'Drain a cluster or a zone (admin)', params: DrainParams, response: { 200: Type.Unknown(), ...errors } } }, async (req) => {
    const known = req.params.kind === 'cluster'
      ? hub.clusters().some((c) => c.name === req.params.name)
      : hub.intake.snapshots().some((s) => s.info?.zone === req.params.name);
    if (!known) fail('INGRESSFED_ERR_API_NOT_FOUND', `${req.params.kind} ${req.params.name} not found`);
    const d = await hub.drain(req.params.kind, req.params.name).catch((err: Error) => fail('INGRESSFED_ERR_API_UNAVAILABLE', `cannot store the drain: ${err.message}`));
    return { kind: d.kind, name: d.name, since: new Date(d.since).toISOString() };
  });
  app.delete(`${API_PREFIX}/drains/:kind/:name`, { ...admin, schema: { description: 'Undrain a cluster or a zone (admin)', params: DrainParams, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    const had = await hub.undrain(req.params.kind, req.params.name).catch((err: Error) => fail('INGRESSFED_ERR_API_UNAVAILABLE', `cannot remove the drain: ${err.message}`));
    if (!had) fail('INGRESSFED_ERR_API_NOT_FOUND', `${req.params.kind} ${req.params.name} is not drained`);
    return reply.code(204).send(null);
  });

  app.get(`${API_PREFIX}/hub`, { ...read, schema: { description: 'This hub: ready or why not, leader and fence, and how it reaches NATS and Redis', response: { 200: Type.Unknown(), ...errors } } }, async () => {
    const lease = hub.leaseState();
    return { ready: hub.ready, notReady: hub.notReady() ?? null, leader: lease.leader, fence: lease.fence ?? null, ...hub.links.view() };
  });
  app.get(`${API_PREFIX}/state`, { ...read, schema: { description: 'Everything at once (for debugging)', response: { 200: Type.Unknown(), ...errors } } }, async () => {
    const m = hub.currentModel();
    return {
      ready: hub.ready, leader: hub.isLeader, links: hub.links.view(), clusters: hub.clusters(),
      routes: (m?.routes ?? []).map(routeView),
      defaultRoute: m?.defaultRoute ? { backend: backendKey(m.defaultRoute.backend), source: m.defaultRoute.source } : null,
      backends: (m?.backends ?? []).map((b) => backendView(b, edgeSnapshots())),
      conflicts: (m?.conflicts ?? []).map(conflictView),
      ingresses: Object.fromEntries(m?.ingresses ?? []),
      classProblems: Object.fromEntries(m?.classProblems ?? []),
      refused: [...hub.intake.refused.values()],
      quarantined: quarantineView(),
      edges: hub.edgeStatus().map((e) => ({ edge: e.edge, applies: e.applies, transactions: e.transactions, lastError: e.lastError ?? null })),
    };
  });

  app.get(`${API_PREFIX}/events`, { ...read, schema: { description: 'Server-sent events: model, apply, cluster, leader, drain, quarantine', response: { 200: Type.String(), ...errors } } }, async (req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    reply.raw.write(': ingressfed events\n\n');
    const kinds = ['model', 'apply', 'cluster', 'leader', 'drain', 'quarantine'];
    const listeners = kinds.map((k) => {
      const l = (data: unknown): void => {
        reply.raw.write(`event: ${k}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      hub.events.on(k, l);
      return [k, l] as const;
    });
    const ping = setInterval(() => reply.raw.write(': ping\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(ping);
      for (const [k, l] of listeners) hub.events.off(k, l);
    });
  });

  await app.ready();
  return app;
}

export type HubApi = Awaited<ReturnType<typeof buildHubApi>>;
