import { hash } from 'node:crypto';
import type { Schemas } from '@ingressfed/dataplane';
import { NO_HOST_SCOPE, type MapKind } from './routing.js';
import { normalisationRules } from './paths.js';
import { FRONTEND_NAME, NOT_FOUND_BACKEND, type EdgePlan, type EdgeTarget, type PlannedBackend } from './plan.js';

// An edge plan as Data Plane API objects (full_section form), and the hashes that decide whether an
// edge needs a transaction: each backend and the frontend carry the hash of their structure. Slot
// contents (address, port, weight, maintenance) are runtime state: they are written with every
// transaction but never cause one.

export type Frontend = Schemas['frontend'];
export type BackendObject = Schemas['backend'];

/** Where each routing map is on the edge (absolute paths, from the Data Plane API's map storage). */
export type MapPaths = Record<MapKind, string>;

/** A path the hub writes into haproxy.cfg: plain characters only, so it cannot end or split a word. */
const SAFE_PATH = /^\/[A-Za-z0-9/._-]+$/;

/** The request rules that route by the maps (see routing.ts): the same few lookups at any number of routes. */
function routingRules(maps: MapPaths): NonNullable<Frontend['http_request_rule_list']> {
  for (const [kind, file] of Object.entries(maps)) {
    if (!SAFE_PATH.test(file)) throw new Error(`the edge keeps the ${kind} map at '${file.slice(0, 200)}', a path with characters the hub does not write into haproxy.cfg`);
  }
  const v = (name: string, expr: string, cond?: string): NonNullable<Frontend['http_request_rule_list']>[number] => ({
    type: 'set-var', var_scope: 'txn', var_name: `ifed_${name}`, var_expr: expr, ...(cond ? { cond: 'if' as const, cond_test: cond } : {}),
  });
  const unset = (name: string): string => `!{ var(txn.ifed_${name}) -m found }`;
  return [
    v('host', 'req.hdr(host),field(1,:),lower'),
    v('scope', `var(txn.ifed_host),map_str(${maps.hosts})`),
    // A wildcard covers exactly one label: the key is the host without its first label.
    v('scope', `var(txn.ifed_host),field(2,.,0),map_str(${maps.wildcards})`, `${unset('scope')} !{ var(txn.ifed_host) -m beg . }`),
    v('scope', `str(${NO_HOST_SCOPE})`, unset('scope')),
    v('path', 'path'),
    v('key', 'var(txn.ifed_scope),concat(,txn.ifed_path,)'),
    v('backend', `var(txn.ifed_key),map_str(${maps.exact})`),
    v('backend', `var(txn.ifed_key),map_beg(${maps.prefix})`, unset('backend')),
  ];
}

/**
 * The frontend of a plan; `description` carries the hub's stamp and is set by the applier. With
 * `crtList` (an edge with an HTTPS port and its crt-list stored), a second bind terminates TLS with
 * the certificate the crt-list picks by SNI; both binds route alike.
 */
export function frontendObject(plan: EdgePlan, edge: EdgeTarget, maps: MapPaths, crtList?: string): Frontend {
  if (crtList !== undefined && !SAFE_PATH.test(crtList)) throw new Error(`the edge keeps its crt-list at '${crtList.slice(0, 200)}', a path with characters the hub does not write into haproxy.cfg`);
  const https = crtList !== undefined && edge.httpsBindPort !== undefined;
  return {
    name: FRONTEND_NAME,
    mode: 'http',
    default_backend: plan.routing.defaultBackend,
    forwardfor: { enabled: 'enabled' },
    binds: {
      http: { name: 'http', address: edge.bindAddress, port: edge.bindPort },
      ...(https ? { https: { name: 'https', address: edge.bindAddress, port: edge.httpsBindPort, ssl: true, crt_list: crtList, alpn: 'h2,http/1.1' } } : {}),
    },
    http_request_rule_list: [
      // Routing and the backend see the normalised path (paths.ts).
      ...normalisationRules(),
      // The standard forwarding headers; X-Forwarded-For comes from `option forwardfor`. Client-sent
      // values are replaced, never trusted.
      ...(https
        ? [{ type: 'set-header' as const, hdr_name: 'X-Forwarded-Proto', hdr_format: 'https', cond: 'if' as const, cond_test: '{ ssl_fc }' },
          { type: 'set-header' as const, hdr_name: 'X-Forwarded-Proto', hdr_format: 'http', cond: 'unless' as const, cond_test: '{ ssl_fc }' }]
        : [{ type: 'set-header' as const, hdr_name: 'X-Forwarded-Proto', hdr_format: 'http' }]),
      { type: 'set-header', hdr_name: 'X-Forwarded-Host', hdr_format: '%[req.hdr(host)]' },
      { type: 'set-header', hdr_name: 'X-Forwarded-Port', hdr_format: '%[dst_port]' },
      ...routingRules(maps),
      // Plain HTTP to a host served over HTTPS goes there (308 keeps the method and body). On every
      // edge, so that HAProxy loads the map (it is empty without HTTPS) and it can change at runtime.
      { type: 'redirect' as const, redir_type: 'scheme' as const, redir_value: 'https', redir_code: 308 as const, cond: 'if' as const, cond_test: `!{ ssl_fc } { var(txn.ifed_scope),map_str(${maps.redirects}) -m found }` },
    ],
    backend_switching_rule_list: [{ name: '%[var(txn.ifed_backend)]', cond: 'if', cond_test: '{ var(txn.ifed_backend) -m found }' }],
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

export const sha = (s: string): string => hash('sha256', s).slice(0, 32);

/** Hash of a backend's structure: everything but slot contents (runtime state) and its stamp. */
export function backendHash(b: BackendObject): string {
  const servers = Object.fromEntries(Object.entries(b.servers ?? {}).map(([n, srv]) => [n, { name: srv.name, backup: srv.backup }]));
  return sha(JSON.stringify({ ...b, description: undefined, servers }));
}

/** Hash of the frontend's structure, without its stamp. */
export function frontendHash(fe: Frontend): string {
  return sha(JSON.stringify({ ...fe, description: undefined }));
}
