import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpoints, ingress, service, snapshot } from '../model/fixtures.js';
import { mergeClusters } from '../model/merge.js';
import { backendKey } from '../model/types.js';
import { backendName, planEdge, planRouting } from '../plan/plan.js';
import { aliasesOnEdge, planSpares } from './spares.js';

const edge = { name: 'e', zone: 'za', bindAddress: '127.0.0.1', bindPort: 8080 };
const addrs = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}`);

function model(services: Array<{ name: string; endpoints: number; annotations?: Record<string, string> }>) {
  return mergeClusters([snapshot('a', 'za', {
    ingresses: services.map((s) => ingress('a', s.name, [{ host: `${s.name}.x.com`, service: s.name }], { annotations: s.annotations ?? {} })),
    services: services.map((s) => service('a', s.name)),
    endpoints: services.map((s) => endpoints('a', s.name, addrs(s.endpoints))),
  })]);
}

const onEdge = (names: string[]): Map<string, string> => new Map(names.map((n) => [n, '']));

describe('spare backends', () => {
  it('serves a backend the edge lacks from a free spare, and plans more spares when fewer than half are free', () => {
    const m = model([{ name: 'old', endpoints: 2 }, { name: 'new', endpoints: 3 }]);
    const edgeHas = onEdge([backendName(m.backends.find((b) => b.id.service === 'old')!.id), 'ingressfed_spare_0', 'ingressfed_spare_1', 'ingressfed_spare_2']);
    const out = planSpares(m, edge, edgeHas, new Map(), 6, true);
    assert.deepEqual([...out.aliases], [['default/new:80', 'ingressfed_spare_0']]);
    assert.deepEqual(out.spares, ['ingressfed_spare_0', 'ingressfed_spare_1', 'ingressfed_spare_2', 'ingressfed_spare_3', 'ingressfed_spare_4', 'ingressfed_spare_5', 'ingressfed_spare_6'],
      '2 free, fewer than half of 6: made up to 6 free');
    assert.equal(planSpares(m, edge, edgeHas, new Map(), 6, false).spares.length, 3, 'only when the edge is idle');
    assert.equal(planSpares(m, edge, edgeHas, new Map(), 4, true).spares.length, 3, '2 free of 4 is half: none made');
    assert.equal(planSpares(m, edge, onEdge([]), new Map(), 4, false).spares.length, 4, 'none left: made at once');
    const plan = planEdge(m, edge, new Map(), { aliases: out.aliases, spares: out.spares });
    const spare = plan.backends.find((b) => b.name === 'ingressfed_spare_0');
    assert.equal(spare?.spare, true);
    assert.equal(spare?.checked, true, 'the default checks');
    assert.equal(spare?.id?.service, 'new');
    assert.deepEqual(spare?.slots.filter((s) => s.endpoint).map((s) => s.address), addrs(3));
    assert.equal(spare?.slots.length, 32, 'fixed pools');
    assert.equal(plan.routing.maps.exact.get('new.x.com/'), 'ingressfed_spare_0', 'routes lead to the spare');
    assert.ok(plan.backends.filter((b) => b.spare && !b.id).every((b) => b.slots.every((s) => s.state === 'maint')), 'free spares have no endpoint');
    assert.equal(planSpares(m, edge, edgeHas, out.aliases, 6, true).aliases, out.aliases, 'nothing changed: the same aliases');
  });

  it('never serves the default backend, a Service with its own HTTP check, or one too big for the pools from a spare', () => {
    const m = model([{ name: 'checked', endpoints: 1, annotations: { 'ingressfed.io/health-check-path': '/healthz' } }, { name: 'big', endpoints: 17 }]);
    const out = planSpares(m, edge, onEdge(['ingressfed_spare_0', 'ingressfed_spare_1']), new Map(), 2, false);
    assert.deepEqual([...out.aliases], []);
    assert.equal(planSpares(m, edge, onEdge(['ingressfed_spare_0', 'ingressfed_spare_1']), new Map(), 4, false).spares.length, 4,
      'their transaction makes up the spares too');
  });

  it('takes no spare while more backends are missing than spares are free (a transaction makes them all)', () => {
    const m = model([{ name: 'a', endpoints: 1 }, { name: 'b', endpoints: 1 }, { name: 'c', endpoints: 1 }]);
    assert.deepEqual([...planSpares(m, edge, onEdge(['ingressfed_spare_0', 'ingressfed_spare_1']), new Map(), 2, false).aliases], []);
    assert.equal(planSpares(m, edge, onEdge(['ingressfed_spare_0', 'ingressfed_spare_1', 'ingressfed_spare_2']), new Map(), 3, false).aliases.size, 3);
  });

  it('releases a spare when its Service leaves or has its own backend on the edge', () => {
    const small = model([{ name: 'web', endpoints: 2 }]);
    const held = planSpares(small, edge, onEdge(['ingressfed_spare_0']), new Map(), 1, false).aliases;
    assert.deepEqual([...held], [['default/web:80', 'ingressfed_spare_0']]);
    const gone = planSpares(model([]), edge, onEdge(['ingressfed_spare_0']), held, 1, false);
    assert.deepEqual([...gone.aliases, ...gone.moving], [], 'left the model');
    const own = onEdge(['ingressfed_spare_0', backendName(small.backends[0]!.id)]);
    const done = planSpares(small, edge, own, held, 1, false, new Map([['default/web:80', 'ingressfed_spare_0']]));
    assert.deepEqual([...done.aliases, ...done.moving], [], 'its own backend exists');
  });

  it('keeps a Service that outgrew its spare on it until its own backend is on the edge', () => {
    const held = new Map([['default/web:80', 'ingressfed_spare_0']]);
    const big = model([{ name: 'web', endpoints: 20 }]);
    const out = planSpares(big, edge, onEdge(['ingressfed_spare_0']), held, 1, false);
    assert.deepEqual([...out.aliases], [], 'routes lead to its own backend');
    assert.deepEqual([...out.moving], [['default/web:80', 'ingressfed_spare_0']]);
    assert.deepEqual([...planSpares(big, edge, onEdge(['ingressfed_spare_0']), out.aliases, 1, false, out.moving).moving], [...out.moving], 'still moving');
    const plan = planEdge(big, edge, new Map(), { aliases: out.aliases, moving: out.moving, spares: out.spares });
    assert.equal(plan.routing.maps.exact.get('web.x.com/'), backendName(big.backends[0]!.id));
    assert.equal(plan.backends.find((b) => b.name === backendName(big.backends[0]!.id))?.slots.filter((x) => x.endpoint).length, 20);
    assert.equal(plan.backends.find((b) => b.name === 'ingressfed_spare_0')?.slots.filter((x) => x.endpoint).length, 16, 'the spare keeps what fits meanwhile');
  });

  it('finds which backends spares serve from the routing maps on the edge', () => {
    const m = model([{ name: 'a', endpoints: 1 }, { name: 'b', endpoints: 1 }]);
    const b = m.backends.find((x) => x.id.service === 'b')!;
    const maps = planRouting(m, new Map([[backendKey(b.id), 'ingressfed_spare_7']])).maps;
    assert.deepEqual([...aliasesOnEdge(m, maps)], [['default/b:80', 'ingressfed_spare_7']]);
  });
});
