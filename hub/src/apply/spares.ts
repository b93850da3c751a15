import { DEFAULT_HEALTH } from '../model/parts.js';
import { backendKey, type Backend, type FederatedModel } from '../model/types.js';
import { SPARE_BACKEND, SPARE_POOL, backendName, planRouting, splitByPolicy, type EdgeTarget } from '../plan/plan.js';
import type { RoutingMaps } from '../plan/routing.js';

// Which backends spares serve on an edge (see SPARE_BACKEND). Nothing is stored for it: a spare
// serves the backend its routing map entries lead to, so the edge itself says which, across hub
// restarts, and a spare whose routes are gone is free again.

/** Free spares kept ready by default; more are made when fewer than half are left. */
export const DEFAULT_SPARES = 32;

/** Whether a spare can serve a backend: not the default backend (named in the configuration), the default checks, pools that fit. */
function eligible(b: Backend, model: FederatedModel, edge: EdgeTarget): boolean {
  if (b.health.path !== DEFAULT_HEALTH.path || b.health.intervalMs !== DEFAULT_HEALTH.intervalMs) return false;
  if (model.defaultRoute && backendKey(model.defaultRoute.backend) === backendKey(b.id)) return false;
  const { primary, backup } = splitByPolicy(b, edge);
  return primary.length <= SPARE_POOL && backup.length <= SPARE_POOL;
}

/** The aliases the edge's routing maps show: backendKey → spare, for routes whose entry names a spare. */
export function aliasesOnEdge(model: FederatedModel, entries: RoutingMaps): Map<string, string> {
  const plain = planRouting(model).maps;
  const keyOf = new Map(model.backends.map((b) => [backendName(b.id), backendKey(b.id)]));
  const out = new Map<string, string>();
  for (const kind of ['exact', 'prefix'] as const) {
    for (const [k, v] of entries[kind]) {
      if (!SPARE_BACKEND.test(v)) continue;
      const key = keyOf.get(plain[kind].get(k) ?? '');
      if (key !== undefined) out.set(key, v);
    }
  }
  return out;
}

export interface SparePlan {
  /** backendKey → spare; the same object as before when nothing changed. */
  aliases: Map<string, string>;
  /**
   * Backends moving from a spare to a backend of their own (they no longer fit, or changed checks):
   * the spare keeps serving them until their own backend is on the edge and the routes lead there.
   */
  moving: Map<string, string>;
  /** Every spare the edge should have. */
  spares: string[];
  /** Fewer than half of the target are free after this plan: an idle edge makes more. */
  low: boolean;
}

/**
 * Keeps the aliases current: a spare whose backend left the model or no longer fits is released; a
 * backend the edge does not have yet takes a free spare, unless more are missing than spares are
 * free (a transaction is needed anyway, and creates them all). New spares, up to `target` free, are
 * planned when `refill` (the edge is idle) and fewer than half are free, when none is left, or when
 * a backend of its own is planned anyway (its transaction makes them too).
 */
export function planSpares(model: FederatedModel, edge: EdgeTarget, onEdge: ReadonlyMap<string, unknown>, current: Map<string, string>, target: number, refill: boolean,
  wasMoving: ReadonlyMap<string, string> = new Map()): SparePlan {
  // One pass over the model: the backends spares serve or served, and those the edge lacks.
  const byKey = new Map<string, Backend>();
  const lacking: Array<[string, Backend]> = [];
  for (const b of model.backends) {
    const key = backendKey(b.id);
    if (current.has(key) || wasMoving.has(key)) byKey.set(key, b);
    if (!onEdge.has(backendName(b.id))) lacking.push([key, b]);
  }
  let aliases = current;
  const change = (): Map<string, string> => (aliases === current ? (aliases = new Map(current)) : aliases);
  // Moving until its own backend is on the edge (or it is gone).
  const moving = new Map([...wasMoving].filter(([key]) => {
    const b = byKey.get(key);
    return b !== undefined && !onEdge.has(backendName(b.id));
  }));
  for (const [key, spare] of current) {
    const b = byKey.get(key);
    if (b && eligible(b, model, edge) && !onEdge.has(backendName(b.id))) continue;
    change().delete(key);
    if (b && !onEdge.has(backendName(b.id))) moving.set(key, spare);
  }
  const inventory = [...onEdge.keys()].filter((n) => SPARE_BACKEND.test(n));
  const taken = new Set([...aliases.values(), ...moving.values()]);
  const free = inventory.filter((n) => !taken.has(n)).sort(bySpareNumber);
  const missing = lacking.filter(([key]) => !aliases.has(key));
  if (missing.length <= free.length) {
    for (const [key, b] of missing) if (eligible(b, model, edge)) change().set(key, free.shift() as string);
  }
  const spares = [...inventory];
  // A backend of its own is coming (a transaction, a reload): the spares are made up in the same one.
  const transaction = missing.some(([key]) => !aliases.has(key));
  const low = free.length < target / 2;
  if (target > 0 && (free.length === 0 || (refill && low) || (transaction && free.length < target))) {
    let n = Math.max(-1, ...inventory.map(spareNumber)) + 1;
    for (let more = target - free.length; more > 0; more--) spares.push(`ingressfed_spare_${n++}`);
  }
  return { aliases, moving, spares, low };
}

const spareNumber = (name: string): number => Number(name.slice('ingressfed_spare_'.length));
const bySpareNumber = (a: string, b: string): number => spareNumber(a) - spareNumber(b);
