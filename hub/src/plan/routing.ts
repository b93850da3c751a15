import type { Route } from '../model/types.js';
import { atOnce, type Steps } from '../turns.js';
import { normalisedPath } from './paths.js';

// Host and path routing as four HAProxy maps, so that a request costs the same at 10 routes as at
// 10,000 (tree lookups instead of one ACL per route), and routes come and go as runtime map entries
// without a reload. Pure.
//
// A request's *scope* is the host rule it falls under: its exact host if some rule names it, else
// `~.<suffix>` if a wildcard `*.<suffix>` covers it (exactly one label before the suffix), else `~`
// (the rules without a host). `~` cannot appear in a host name, and no map key may contain `*` (the
// Data Plane API refuses it in entry ids). Paths are then looked up by `<scope><path>`:
//   - `exact`: every Exact path, and every Prefix path as itself (`/foo` matches `/foo`). An exact
//     hit is always the longest possible match; Exact wins over Prefix for the same path.
//   - `prefix`: every Prefix path as `<path>/` (element-wise: `/foo` matches `/foo/bar`, never
//     `/foobar`), and `/` as itself. HAProxy's `map_beg` keeps these in a prefix tree and answers the
//     longest match. Keys of different scopes never match each other: a scope has no '/'.
// A request whose scope has no matching path goes to the default backend, never to a wildcard or
// host-less rule (Kubernetes Ingress semantics).
// Request paths are normalised before the lookup (paths.ts), and so are the rule paths in the keys.
// Two rules of one scope and path type that normalise to the same path are one key: the rule written
// in normal form keeps it (a rule that only normalises to a path never takes it from the rule that
// names it), else the first in the model's order.

export type MapKind = 'hosts' | 'wildcards' | 'exact' | 'prefix' | 'redirects';
/** The order additions are made in: paths before the hosts that lead to them. Deletions go in reverse. */
export const MAP_KINDS: readonly MapKind[] = ['redirects', 'exact', 'prefix', 'wildcards', 'hosts'];

/** The map files the hub keeps on an edge (in the Data Plane API's map storage). */
export const MAP_FILES: Readonly<Record<MapKind, string>> = {
  hosts: 'ingressfed_hosts.map',
  wildcards: 'ingressfed_wildcards.map',
  exact: 'ingressfed_exact.map',
  prefix: 'ingressfed_prefix.map',
  // Scopes whose plain HTTP requests are redirected to HTTPS (see withRedirects): not from routes.
  redirects: 'ingressfed_redirects.map',
};

/** Each map's entries: key → backend name (or scope, for the host maps). */
export type RoutingMaps = Record<MapKind, Map<string, string>>;

export const NO_HOST_SCOPE = '~';

export function emptyMaps(): RoutingMaps {
  return { hosts: new Map(), wildcards: new Map(), exact: new Map(), prefix: new Map(), redirects: new Map() };
}

/** The routing plan with plain HTTP requests to `hosts` redirected to HTTPS: their scopes in the redirects map. */
export function withRedirects(routing: RoutingPlan, hosts: readonly string[]): RoutingPlan {
  const redirects = new Map(hosts.map((h) => [scopeOf(h), '1']));
  return { ...routing, maps: { ...routing.maps, redirects } };
}

/** The scope a route's host puts it in. */
export function scopeOf(host: string): string {
  if (host === '') return NO_HOST_SCOPE;
  return host.startsWith('*.') ? `~${host.slice(1)}` : host;
}

/** A route's map keys (remembered per route object: unchanged routes are the same objects from one model to the next). */
interface RouteKeys {
  scope: string;
  /** Whether the rule's path is already in normal form. */
  normal: boolean;
  host?: [MapKind, string];
  exact: string;
  prefix?: string;
}

const routeKeys = new WeakMap<Route, RouteKeys>();

function keysOf(r: Route): RouteKeys {
  let k = routeKeys.get(r);
  if (k) return k;
  const scope = scopeOf(r.host);
  const path = normalisedPath(r.path, r.pathType);
  const exact = scope + path;
  k = {
    scope,
    normal: path === r.path,
    exact,
    ...(r.host.startsWith('*.') ? { host: ['wildcards', r.host.slice(2)] as [MapKind, string] } : r.host !== '' ? { host: ['hosts', r.host] as [MapKind, string] } : {}),
    ...(r.pathType === 'Exact' ? {} : { prefix: path === '/' ? exact : `${exact}/` }),
  };
  routeKeys.set(r, k);
  return k;
}

/** The four maps for a set of routes; `backendOf` names the HAProxy backend of a route. */
export function routingMaps(routes: readonly Route[], backendOf: (r: Route) => string): RoutingMaps {
  return atOnce(routingMapsSteps(routes, backendOf));
}

/** routingMaps, a step per route (ten thousand routes are built in turns of the event loop). */
export function* routingMapsSteps(routes: readonly Route[], backendOf: (r: Route) => string): Steps<RoutingMaps> {
  const maps = emptyMaps();
  const exactPaths = new Set<string>();
  for (const normal of [true, false]) {
    for (const r of routes) {
      const k = keysOf(r);
      if (k.normal !== normal) continue;
      yield;
      place(maps, exactPaths, k, backendOf(r));
    }
  }
  return maps;
}

/** Puts one route in the maps: the first claim of a key holds it, except that Exact wins over Prefix in the exact map. */
function place(maps: RoutingMaps, exactPaths: Set<string>, k: RouteKeys, backend: string): void {
  if (k.host) maps[k.host[0]].set(k.host[1], k.scope);
  if (k.prefix === undefined) {
    if (!exactPaths.has(k.exact)) maps.exact.set(k.exact, backend);
    exactPaths.add(k.exact);
    return;
  }
  if (!maps.exact.has(k.exact)) maps.exact.set(k.exact, backend);
  if (!maps.prefix.has(k.prefix)) maps.prefix.set(k.prefix, backend);
}

/** What to change in `have` to make it `want`, per map. */
export interface MapDiff {
  kind: MapKind;
  added: Array<[string, string]>;
  changed: Array<[string, string]>;
  removed: string[];
}

export function diffMaps(have: RoutingMaps, want: RoutingMaps): MapDiff[] {
  const out: MapDiff[] = [];
  for (const kind of MAP_KINDS) {
    const h = have[kind];
    const w = want[kind];
    const d: MapDiff = { kind, added: [], changed: [], removed: [] };
    for (const [k, v] of w) {
      const cur = h.get(k);
      if (cur === undefined) d.added.push([k, v]);
      else if (cur !== v) d.changed.push([k, v]);
    }
    for (const k of h.keys()) if (!w.has(k)) d.removed.push(k);
    if (d.added.length + d.changed.length + d.removed.length > 0) out.push(d);
  }
  return out;
}

/**
 * A map's contents in HAProxy's map file format, after a comment line (never empty: the Data Plane
 * API takes no empty file body).
 */
export function mapFileText(entries: Map<string, string>): string {
  let out = '# ingressfed routing map\n';
  for (const [k, v] of entries) out += `${k} ${v}\n`;
  return out;
}

/** The routing of a model for one edge: maps plus the backend requests fall to when nothing matches. */
export interface RoutingPlan {
  maps: RoutingMaps;
  defaultBackend: string;
}
