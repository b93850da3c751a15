import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom as rng } from '@ingressfed/schemas/testing';
import type { PathType, Route } from '../model/types.js';
import { routeOrder } from './plan.js';
import { normalisedPath } from './paths.js';
import { NO_HOST_SCOPE, diffMaps, emptyMaps, routingMaps, type RoutingMaps } from './routing.js';

// The maps against the Ingress matching rules they replace: for random route sets and requests, the
// lookup HAProxy makes (the frontend's rules, written out here) must answer what the rules say.

/** Kubernetes semantics, directly: the host's rules (exact, else one-label wildcard, else none), longest path, Exact first. */
function reference(routes: Route[], rawHost: string, path: string): string | undefined {
  const host = (rawHost.split(':')[0] ?? '').toLowerCase();
  const dot = host.indexOf('.');
  const exact = routes.filter((r) => r.host === host);
  const wild = dot > 0 ? routes.filter((r) => r.host === `*${host.slice(dot)}`) : [];
  const scope = exact.length > 0 ? exact : wild.length > 0 ? wild : routes.filter((r) => r.host === '');
  const matches = (r: Route): boolean => r.pathType === 'Exact' ? path === r.path : r.path === '/' || path === r.path || path.startsWith(`${r.path}/`);
  return [...scope].sort(routeOrder).find(matches)?.backend.service;
}

/** The frontend's lookups over the maps (objects.ts): map_str, field(2,.,0), concat, then map_beg's longest prefix. */
function haproxyLookup(maps: RoutingMaps, rawHost: string, path: string): string | undefined {
  const host = (rawHost.split(':')[0] ?? '').toLowerCase();
  const rest = host.includes('.') ? host.slice(host.indexOf('.') + 1) : '';
  const scope = maps.hosts.get(host) ?? (host.startsWith('.') ? undefined : maps.wildcards.get(rest)) ?? NO_HOST_SCOPE;
  const key = scope + path;
  const exact = maps.exact.get(key);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  for (const k of maps.prefix.keys()) if (key.startsWith(k) && (best === undefined || k.length > best.length)) best = k;
  return best === undefined ? undefined : maps.prefix.get(best);
}

const HOSTS = ['', 'a.x.com', 'b.x.com', '*.x.com', '*.a.x.com', 'x.com', '*.com', 'localhost'];
const PATHS = ['/', '/a', '/a/b', '/a/b/c', '/ab', '/a/bc', '/b'];
const REQUEST_HOSTS = ['a.x.com', 'A.X.com:8080', 'b.x.com', 'c.x.com', 'd.a.x.com', 'a.b.x.com', 'x.com', 'y.com', 'com', 'localhost', 'other', '.x.com', ''];
const REQUEST_PATHS = ['/', '/a', '/a/', '/a/b', '/a/b/', '/a/b/c', '/a/b/cd', '/ab', '/abc', '/a/bc', '/a/bcd', '/b', '/b/x', '/c'];

function randomRoutes(r: () => number): Route[] {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const byKey = new Map<string, Route>();
  for (let i = 0; i < 1 + Math.floor(r() * 14); i++) {
    const route: Route = { host: pick(HOSTS), path: pick(PATHS), pathType: pick<PathType>(['Exact', 'Prefix']), backend: { namespace: 'n', service: `s${i}`, port: 80 }, sources: [] };
    // The merge leaves one route per host, path and path type.
    byKey.set(`${route.host} ${route.path} ${route.pathType}`, route);
  }
  return [...byKey.values()];
}

describe('routing maps', () => {
  it('answer every request as the Ingress matching rules do (200 random route sets × every request)', () => {
    const r = rng(7);
    let checked = 0;
    for (let round = 0; round < 200; round++) {
      const routes = randomRoutes(r);
      const maps = routingMaps(routes, (x) => x.backend.service);
      for (const host of REQUEST_HOSTS) {
        for (const path of REQUEST_PATHS) {
          assert.equal(haproxyLookup(maps, host, path), reference(routes, host, path),
            `${host}${path} with routes ${routes.map((x) => `${x.host}${x.path}(${x.pathType})→${x.backend.service}`).join(' ')}`);
          checked++;
        }
      }
    }
    assert.equal(checked, 200 * REQUEST_HOSTS.length * REQUEST_PATHS.length);
  });

  it('keys never contain characters the Data Plane API refuses in an entry id, nor whitespace', () => {
    const maps = routingMaps([...HOSTS].flatMap((host) => PATHS.map((path) => ({ host, path, pathType: 'Prefix' as const, backend: { namespace: 'n', service: 's', port: 80 }, sources: [] }))), () => 'be');
    for (const m of Object.values(maps)) for (const k of m.keys()) assert.match(k, /^[^\s<>*;$#&{}"]+$/);
  });

  it('key rule paths as the edge normalises request paths', () => {
    const cases: Array<[string, 'Exact' | 'Prefix', string]> = [
      ['/admin', 'Prefix', '/admin'], ['/%61dmin', 'Prefix', '/admin'], ['/caf%c3%a9', 'Exact', '/caf%C3%A9'], ['/%7e%41', 'Exact', '/~A'],
      ['/a/%2e%2e/b', 'Prefix', '/b'], ['/%2e%2e/admin', 'Exact', '/admin'], ['/%2E%2e', 'Prefix', '/'], ['/a/%2e', 'Exact', '/a/'],
      ['/a/%2e', 'Prefix', '/a'], ['/a/b/%2e%2e', 'Exact', '/a/'], ['/foo/', 'Exact', '/foo/'], ['/%25', 'Prefix', '/%25'], ['/.well-known', 'Exact', '/.well-known'],
    ];
    for (const [path, type, want] of cases) {
      assert.equal(normalisedPath(path, type), want, `${type} ${path}`);
      assert.equal(normalisedPath(want, type), want, `${type} ${want} is already normal`);
    }
  });

  it('give a key that two rules normalise to to the rule written in normal form; Exact still wins over Prefix', () => {
    const route = (path: string, pathType: PathType, service: string): Route => ({ host: 'h', path, pathType, backend: { namespace: 'n', service, port: 80 }, sources: [] });
    const maps = routingMaps([route('/%61dmin', 'Prefix', 'encoded'), route('/x/%2e%2e/admin', 'Prefix', 'dotted'), route('/admin', 'Prefix', 'plain')], (x) => x.backend.service);
    assert.deepEqual([...maps.prefix], [['h/admin/', 'plain']]);
    assert.deepEqual([...maps.exact], [['h/admin', 'plain']]);
    const exact = routingMaps([route('/admin', 'Prefix', 'plain'), route('/%61dmin', 'Exact', 'exact')], (x) => x.backend.service);
    assert.deepEqual([...exact.exact], [['h/admin', 'exact']]);
    assert.deepEqual([...exact.prefix], [['h/admin/', 'plain']]);
  });

  it('diffs per map: added, changed and removed keys', () => {
    const have = emptyMaps();
    have.exact.set('h/a', 'x').set('h/b', 'y');
    const want = emptyMaps();
    want.exact.set('h/a', 'z').set('h/c', 'w');
    assert.deepEqual(diffMaps(have, want), [{ kind: 'exact', added: [['h/c', 'w']], changed: [['h/a', 'z']], removed: ['h/b'] }]);
    assert.deepEqual(diffMaps(want, want), []);
  });
});
