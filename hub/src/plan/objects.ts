import { createHash } from 'node:crypto';
import type { Schemas } from '@ingressfed/dataplane';
import { FRONTEND_NAME, NOT_FOUND_BACKEND, type EdgePlan, type EdgeTarget, type PlannedBackend } from './plan.js';

// An edge plan as Data Plane API objects (full_section form), and the comparison that decides
// whether an edge needs a transaction. Slot contents (address, port, weight, maintenance) are runtime
// state: they are written with every transaction but never cause one.

export type Frontend = Schemas['frontend'];
export type BackendObject = Schemas['backend'];

/** The frontend of a plan; `description` carries the hub's stamp and is set by the applier. */
export function frontendObject(plan: EdgePlan, edge: EdgeTarget): Frontend {
  return {
    name: FRONTEND_NAME,
    mode: 'http',
    default_backend: plan.defaultBackend,
    forwardfor: { enabled: 'enabled' },
    binds: { http: { name: 'http', address: edge.bindAddress, port: edge.bindPort } },
    acl_list: plan.acls.map((a) => ({ acl_name: a.acl_name, criterion: a.criterion, value: a.value })),
    // The standard forwarding headers; X-Forwarded-For comes from `option forwardfor`. Client-sent
    // values are replaced, never trusted.
    http_request_rule_list: [
      { type: 'set-header', hdr_name: 'X-Forwarded-Proto', hdr_format: 'http' },
      { type: 'set-header', hdr_name: 'X-Forwarded-Host', hdr_format: '%[req.hdr(host)]' },
      { type: 'set-header', hdr_name: 'X-Forwarded-Port', hdr_format: '%[dst_port]' },
    ],
    backend_switching_rule_list: plan.switching.map((s) => ({ name: s.backend, cond: 'if' as const, cond_test: s.cond_test })),
  };
}

export function backendObject(b: PlannedBackend): BackendObject {
  if (b.name === NOT_FOUND_BACKEND) {
    return {
      name: NOT_FOUND_BACKEND,
      mode: 'http',
      // The Data Plane API writes free text verbatim into haproxy.cfg, so the text carries its own
      // quotes (no '$' or '\\' inside, so nothing in it is expanded).
      http_request_rule_list: [{ type: 'return', return_status_code: 404, return_content_type: 'text/plain', return_content_format: 'string', return_content: '"no route"' }],
    };
  }
  const servers: NonNullable<BackendObject['servers']> = {};
  for (const s of b.slots) {
    servers[s.name] = {
      name: s.name, address: s.address, port: s.port, weight: 1,
      maintenance: s.state === 'maint' ? 'enabled' : 'disabled',
      ...(s.backup ? { backup: 'enabled' as const } : {}),
    };
  }
  return {
    name: b.name,
    mode: 'http',
    balance: { algorithm: 'roundrobin' },
    allbackups: 'enabled',
    // An abrupt failure stays invisible: a refused connection marks the server down at once
    // (observe layer4, error-limit 1, on-error mark-down) and the request is retried on another
    // server (every retry redispatched); backups take over when no primary is left. The mark-down
    // lands a moment later than the retries, which follow each other at once: with 3 retries a
    // request could spend them all on dead primaries (503 SC-- +3), so it gets 10.
    retries: 10,
    retry_on: 'conn-failure empty-response response-timeout',
    redispatch: { enabled: 'enabled', interval: 1 },
    connect_timeout: 2000,
    server_timeout: 30000,
    ...(b.checked ? checkedBackend(b) : { default_server: { check: 'disabled' as const } }),
    servers,
  };
}

/** Active health checks, and passive ones (a refused connection marks the server down at once). */
function checkedBackend(b: PlannedBackend): Partial<BackendObject> {
  const inter = b.health?.intervalMs ?? 1000;
  return {
    check_timeout: Math.min(2000, inter),
    ...(b.health?.path ? { adv_check: 'httpchk' as const, httpchk_params: { method: 'GET' as const, uri: b.health.path } } : {}),
    default_server: {
      check: 'enabled', inter, fastinter: Math.max(100, Math.floor(inter / 4)), downinter: inter, rise: 1, fall: 2,
      observe: 'layer4', error_limit: 1, 'on-error': 'mark-down',
    },
  };
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32);

/** Hash of a backend's structure: everything but slot contents (runtime state) and its stamp. */
export function backendHash(b: BackendObject): string {
  const servers = Object.fromEntries(Object.entries(b.servers ?? {}).map(([n, srv]) => [n, { name: srv.name, backup: srv.backup }]));
  return sha(JSON.stringify({ ...b, description: undefined, servers }));
}

/** Hash of the frontend's structure, without its stamp. */
export function frontendHash(fe: Frontend): string {
  return sha(JSON.stringify({ ...fe, description: undefined }));
}

/** Hash of a whole structure from its parts' hashes (backends in any order). */
export function combineHashes(frontend: string, backends: Iterable<string>): string {
  return sha(JSON.stringify([frontend, [...backends].sort()]));
}

/**
 * Hash of a plan's structure: everything a transaction would write except slot contents (address,
 * port, weight, maintenance), which are runtime state. Equal hashes mean no transaction is needed.
 */
export function structureHash(fe: Frontend, backends: BackendObject[]): string {
  return combineHashes(frontendHash(fe), backends.map(backendHash));
}
