import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpoints, ingress, service, snapshot } from '../model/fixtures.js';
import { mergeClusters } from '../model/merge.js';
import { backendHash, backendObject, frontendHash, frontendObject } from './objects.js';
import { NOT_FOUND_BACKEND, PlanMemo, SHRINK_AFTER_MS, backendName, planEdge, poolSize } from './plan.js';

const edge = { name: 'e', zone: 'za', bindAddress: '127.0.0.1', bindPort: 8080 };

describe('plan: one edge\'s HAProxy objects from the federated model', () => {
  it('routes by maps: hosts to scopes, Exact and Prefix paths, element-wise prefixes, the default backend', () => {
    const m = mergeClusters([snapshot('a', 'za', { ingresses: [ingress('a', 'i', [
      { path: '/', service: 'any' },
      { host: '*.x.com', path: '/', service: 'wild' },
      { host: 'a.x.com', path: '/p', service: 'short' },
      { host: 'a.x.com', path: '/p/longer', service: 'long' },
      { host: 'a.x.com', path: '/p', pathType: 'Exact', service: 'exact' },
    ])] })]);
    const { maps, defaultBackend } = planEdge(m, edge).routing;
    const svc = (b: string | undefined): string => m.backends.find((x) => backendName(x.id) === b)?.id.service ?? '?';
    assert.deepEqual([...maps.hosts], [['a.x.com', 'a.x.com']]);
    assert.deepEqual([...maps.wildcards], [['x.com', '~.x.com']]);
    assert.deepEqual(Object.fromEntries([...maps.exact].map(([k, v]) => [k, svc(v)])), { '~/': 'any', '~.x.com/': 'wild', 'a.x.com/p': 'exact', 'a.x.com/p/longer': 'long' });
    assert.deepEqual(Object.fromEntries([...maps.prefix].map(([k, v]) => [k, svc(v)])), { '~/': 'any', '~.x.com/': 'wild', 'a.x.com/p/': 'short', 'a.x.com/p/longer/': 'long' });
    assert.equal(defaultBackend, NOT_FOUND_BACKEND);
  });

  it('sizes slot pools with headroom and keeps every endpoint in the slot it has', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 6].map((n) => poolSize(n, 0)), [0, 4, 4, 8, 8, 16]);
    assert.equal(poolSize(3, 8), 8, 'no shrink above a quarter');
    assert.equal(poolSize(1, 16), 4, 'shrinks far below');
    assert.equal(poolSize(0, 4), 4, 'a pool that had endpoints keeps its slots');
    // With a memo, a pool shrinks only once it has been far below its size for SHRINK_AFTER_MS.
    const memo = new PlanMemo();
    const t0 = 1_000_000;
    assert.equal(poolSize(0, 64, (low) => memo.mayShrink('be/p', low, t0)), 64, 'not at once');
    assert.equal(poolSize(40, 64, (low) => memo.mayShrink('be/p', low, t0 + 1000)), 64, 'endpoints back: the clock starts again');
    assert.equal(poolSize(0, 64, (low) => memo.mayShrink('be/p', low, t0 + 2000)), 64);
    assert.equal(poolSize(0, 64, (low) => memo.mayShrink('be/p', low, t0 + 2000 + SHRINK_AFTER_MS - 1)), 64);
    assert.equal(poolSize(0, 64, (low) => memo.mayShrink('be/p', low, t0 + 2000 + SHRINK_AFTER_MS)), 4, 'low for SHRINK_AFTER_MS: shrinks');
    const m = mergeClusters([snapshot('a', 'za', { ingresses: [ingress('a', 'i', [{ host: 'h.x.com', service: 'web' }])], services: [service('a', 'web')],
      endpoints: [endpoints('a', 'web', ['10.0.0.1', '10.0.0.2'])] })]);
    const name = backendName({ namespace: 'default', service: 'web', port: 80 });
    const cur = new Map([[name, new Map([['p0', ''], ['p1', ''], ['p2', '10.0.0.2:8080'], ['p3', '']])]]);
    const slots = planEdge(m, edge, cur).backends.find((b) => b.name === name)?.slots ?? [];
    assert.deepEqual(slots.filter((s) => s.endpoint).map((s) => `${s.name}=${s.address}`), ['p0=10.0.0.1', 'p2=10.0.0.2']);
    assert.deepEqual(slots.filter((s) => !s.endpoint).map((s) => `${s.name}:${s.state}`), ['p1:maint', 'p3:maint'], 'no backup pool without backup endpoints');
  });

  it('gives active checks to backends in name order while the edge\'s budget of checked slots lasts', () => {
    const names = ['s1', 's2', 's3'];
    const m = mergeClusters([snapshot('a', 'za', { ingresses: names.map((n) => ingress('a', n, [{ host: `${n}.x.com`, service: n }])),
      services: names.map((n) => service('a', n)), endpoints: names.map((n) => endpoints('a', n, ['10.0.0.1', '10.0.0.2', '10.0.0.3'])) })]);
    const checked = (budget: number): boolean[] => planEdge(m, { ...edge, maxCheckedSlots: budget }).backends.slice(1).map((b) => b.checked);
    assert.deepEqual(checked(10_000), [true, true, true]);
    assert.deepEqual(checked(17), [true, true, false], 'eight slots each: two fit in 17');
    const be = backendObject(planEdge(m, { ...edge, maxCheckedSlots: 8 }).backends[2] as NonNullable<ReturnType<typeof planEdge>['backends'][number]>);
    assert.equal(be.default_server?.check, 'disabled');
    assert.equal(be.default_server?.observe, undefined);
  });

  it('puts the edge\'s zone in primary slots and other zones in backup slots; none puts all in primary', () => {
    const snaps = (failover?: string) => [
      snapshot('a', 'za', { ingresses: [ingress('a', 'i', [{ host: 'h.x.com', service: 'web' }], { annotations: failover ? { 'ingressfed.io/failover': failover } : {} })], services: [service('a', 'web')], endpoints: [endpoints('a', 'web', ['10.1.0.1'])] }),
      snapshot('b', 'zb', { ingresses: [ingress('b', 'i', [{ host: 'h.x.com', service: 'web' }], { annotations: failover ? { 'ingressfed.io/failover': failover } : {} })], services: [service('b', 'web')], endpoints: [endpoints('b', 'web', ['10.2.0.1'])] }),
    ];
    const slotsOf = (f?: string): string[] => (planEdge(mergeClusters(snaps(f)), edge).backends[1]?.slots ?? []).filter((s) => s.endpoint).map((s) => `${s.backup ? 'backup' : 'primary'} ${s.address}`);
    assert.deepEqual(slotsOf(), ['primary 10.1.0.1', 'backup 10.2.0.1']);
    assert.deepEqual(slotsOf('none'), ['primary 10.1.0.1', 'primary 10.2.0.1']);
    assert.deepEqual(slotsOf('b,a'), ['primary 10.2.0.1', 'backup 10.1.0.1']);
  });

  it('drains terminating and not-ready endpoints', () => {
    const m = mergeClusters([snapshot('a', 'za', { ingresses: [ingress('a', 'i', [{ host: 'h.x.com', service: 'web' }])], services: [service('a', 'web')],
      endpoints: [endpoints('a', 'web', [{ address: '10.0.0.1' }, { address: '10.0.0.2', ready: false }, { address: '10.0.0.3', ready: false, terminating: true }])] })]);
    const slots = planEdge(m, edge).backends[1]?.slots.filter((s) => s.endpoint).map((s) => `${s.address} ${s.state}`);
    assert.deepEqual(slots, ['10.0.0.1 ready', '10.0.0.2 drain', '10.0.0.3 drain']);
  });

  it('reuses slots from its memo, but never a plan made while a drain was in force', () => {
    const m = mergeClusters([snapshot('a', 'za', { ingresses: [ingress('a', 'i', [{ host: 'h.x.com', service: 'web' }])], services: [service('a', 'web')], endpoints: [endpoints('a', 'web', ['10.0.0.1'])] })]);
    const memo = new PlanMemo();
    const current = new Map([[backendName(m.backends[0]!.id), new Map([['p0', ''], ['p1', ''], ['p2', ''], ['p3', '']])]]);
    const ready = planEdge(m, edge, current, {}, memo);
    assert.equal(planEdge(m, edge, current, {}, memo).backends[1]?.slots, ready.backends[1]?.slots, 'an unchanged backend keeps its planned slots');
    const drained = planEdge(m, edge, current, { drained: () => true, sessions: () => 0 }, memo);
    assert.ok(drained.backends[1]?.slots.every((s) => !s.endpoint), 'a drained endpoint without sessions leaves its slot');
    assert.deepEqual(planEdge(m, edge, current, {}, memo).backends[1]?.slots.filter((s) => s.endpoint).map((s) => s.address), ['10.0.0.1'], 'back once the drain ends');
  });

  it('hashes structure without slot contents', () => {
    const m = mergeClusters([snapshot('a', 'za', { ingresses: [ingress('a', 'i', [{ host: 'h.x.com', service: 'web' }])], services: [service('a', 'web')], endpoints: [endpoints('a', 'web', ['10.0.0.1'])] })]);
    const p = planEdge(m, edge);
    const fe = frontendObject(p, edge, { hosts: '/m/h.map', wildcards: '/m/w.map', exact: '/m/e.map', prefix: '/m/p.map', redirects: '/m/r.map' });
    const be = backendObject(p.backends[1] as NonNullable<(typeof p.backends)[1]>);
    const moved = structuredClone(be);
    const s0 = moved.servers?.p0;
    if (s0) Object.assign(s0, { address: '10.9.9.9', port: 1, maintenance: 'enabled', weight: 7 });
    assert.equal(backendHash(be), backendHash(moved), 'slot contents are runtime state');
    const extra = structuredClone(be);
    if (extra.servers) extra.servers.p9 = { name: 'p9', address: '0.0.0.0', port: 1 };
    assert.notEqual(backendHash(be), backendHash(extra), 'a slot more is structure');
    assert.notEqual(frontendHash(fe), frontendHash({ ...fe, default_backend: 'other' }), 'the frontend is structure');
    assert.equal(frontendHash({ ...fe, description: 'ingressfed fence=9' }), frontendHash(fe), 'the stamp is not');
  });
});
