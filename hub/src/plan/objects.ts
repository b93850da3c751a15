import type { Schemas } from '@ingressfed/dataplane';
import { FRONTEND_NAME, NOT_FOUND_BACKEND, type EdgePlan, type EdgeTarget, type PlannedBackend } from './plan.js';

// An edge plan as Data Plane API objects (full_section form), and the comparison that decides
// whether an edge needs a transaction. Slot contents (address, port, weight, maintenance) are runtime
// state: they are written with every transaction but never cause one.

export type Frontend = Schemas['frontend'];
export type BackendObject = Schemas['backend'];

export function frontendObject(plan: EdgePlan, edge: EdgeTarget, fence?: number): Frontend {
  return {
    name: FRONTEND_NAME,
    ...(fence !== undefined ? { description: `ingressfed fence=${fence}` } : {}),
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
      http_request_rule_list: [{ type: 'return', return_status_code: 404, return_content_type: 'text/plain', return_content_format: 'string', return_content: 'no route' }],
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
  const inter = b.health?.intervalMs ?? 1000;
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
    check_timeout: Math.min(2000, inter),
    ...(b.health?.path ? { adv_check: 'httpchk' as const, httpchk_params: { method: 'GET' as const, uri: b.health.path } } : {}),
    default_server: {
      check: 'enabled', inter, fastinter: Math.max(100, Math.floor(inter / 4)), downinter: inter, rise: 1, fall: 2,
      observe: 'layer4', error_limit: 1, 'on-error': 'mark-down',
    },
    servers,
  };
}

const RUNTIME_FIELDS = new Set(['address', 'port', 'weight', 'maintenance']);

/** True when `current` has every field `desired` sets, with the same value (slot contents aside). */
export function sameStructure(desired: unknown, current: unknown, path = ''): boolean {
  if (desired === null || typeof desired !== 'object') return JSON.stringify(desired) === JSON.stringify(current);
  if (current === null || typeof current !== 'object') return false;
  if (Array.isArray(desired)) {
    return Array.isArray(current) && desired.length === current.length && desired.every((d, i) => sameStructure(d, current[i], `${path}[]`));
  }
  const d = desired as Record<string, unknown>;
  const c = current as Record<string, unknown>;
  const inServers = path.endsWith('.servers');
  if (inServers && Object.keys(c).sort().join(',') !== Object.keys(d).sort().join(',')) return false;
  for (const [k, v] of Object.entries(d)) {
    if (path.startsWith('.servers.') && RUNTIME_FIELDS.has(k)) continue;
    if (!sameStructure(v, c[k], inServers ? `.servers.${k}` : path === '' ? `.${k}` : `${path}.${k}`)) return false;
  }
  return true;
}
