import { hash } from 'node:crypto';
import { routingMapsSteps, type RoutingPlan } from './routing.js';
import { backendKey, type Backend, type BackendId, type Endpoint, type FederatedModel, type HealthCheck, type Route } from '../model/types.js';
import { Turns, atOnce, inTurns, type Steps } from '../turns.js';

// Federated model → the HAProxy objects one edge should have. Pure. Every name is generated from a
// hash of the identity it stands for; hosts and paths reach map keys only after the allowlists of
// @ingressfed/schemas passed them (no whitespace, quote or comment character can be in one).

export const FRONTEND_NAME = 'ingressfed_http';
export const NOT_FOUND_BACKEND = 'ingressfed_not_found';
/**
 * Backends the hub owns on an edge: only names it generates (the `ingressfed_` prefix is reserved on
 * an edge the hub programs); an operator's own backends are never touched.
 */
export const MANAGED_BACKEND = /^ingressfed_(not_found$|be_[a-z0-9_-]+_[0-9a-f]{8}$|spare_\d+$)/;
/**
 * Spare backends: made ahead of need (a transaction reloads HAProxy, seconds at ten thousand
 * backends), so that a new Service is served at once by a spare, through runtime map entries and
 * slots. A spare has fixed pools and the default checks (a TCP connect every second, passive
 * detection), and serves only Services with those; its Service keeps it while it fits.
 */
export const SPARE_BACKEND = /^ingressfed_spare_\d+$/;
/** Slots in each pool (primary, backup) of a spare. */
export const SPARE_POOL = 16;
const PLACEHOLDER = { address: '0.0.0.0', port: 1 };

export interface EdgeTarget {
  name: string;
  zone: string;
  bindAddress: string;
  bindPort: number;
  /** Where the edge terminates HTTPS (on bindAddress), with the certificates the clusters publish; none without it. */
  httpsBindPort?: number;
  /**
   * Most slots given active health checks on this edge (default 10,000). HAProxy reserves a file
   * descriptor per checked server at start, on top of two per connection: with a descriptor limit F
   * and maxconn M, keep this under F − 2M − 100. Backends past the budget (in name order) run on
   * passive detection: Kubernetes readiness, retries and redispatch.
   */
  maxCheckedSlots?: number;
  /** Free spare backends kept ready on this edge (default 32; 0: none). See SPARE_BACKEND. */
  spareBackends?: number;
}

export const DEFAULT_MAX_CHECKED_SLOTS = 10_000;

export type SlotState = 'ready' | 'drain' | 'maint';

export interface PlannedSlot {
  name: string;
  backup: boolean;
  address: string;
  port: number;
  state: SlotState;
  /** The endpoint in this slot, if any. */
  endpoint?: Endpoint;
  /** Draining on an operator's request (cluster or zone drain). */
  drained?: boolean;
}

export interface PlanOptions {
  /** Endpoints an operator asked to drain. */
  drained?: (e: Endpoint) => boolean;
  /** Backends served by a spare: backendKey → spare name. */
  aliases?: ReadonlyMap<string, string>;
  /** Backends moving from a spare to their own backend: the spare keeps their endpoints meanwhile. */
  moving?: ReadonlyMap<string, string>;
  /** Every spare the edge should have (those serving a backend and the free ones). */
  spares?: readonly string[];
  /** Current sessions of a slot on the edge, when known. */
  sessions?: (backend: string, slot: string) => number | undefined;
}

export interface PlannedBackend {
  name: string;
  /** A spare backend: fixed pools, no active checks (see SPARE_BACKEND). */
  spare?: boolean;
  id: BackendId | undefined;
  health: HealthCheck | undefined;
  /** Whether its slots get active health checks (within the edge's budget). */
  checked: boolean;
  slots: PlannedSlot[];
}

export interface EdgePlan {
  routing: RoutingPlan;
  backends: PlannedBackend[];
}

/** Every slot on the edge now: backend name → slot name → 'address:port' of its endpoint, or '' when free. */
export type CurrentSlots = Map<string, Map<string, string>>;

const hash8 = (s: string): string => hash('sha256', s).slice(0, 8);
const slug = (s: string, n: number): string => s.replace(/[^a-z0-9-]/g, '-').slice(0, n);

const names = new WeakMap<BackendId, string>();

/** The HAProxy name of a backend (remembered per id object: a plan names ten thousand of them). */
export function backendName(id: BackendId): string {
  let name = names.get(id);
  if (name === undefined) {
    name = `ingressfed_be_${slug(id.namespace, 20)}_${slug(id.service, 24)}_${id.port}_${hash8(backendKey(id))}`;
    names.set(id, name);
  }
  return name;
}

/** Routing precedence: exact hosts, then wildcards, then no host; longest path first; Exact before Prefix. */
export function routeOrder(a: Route, b: Route): number {
  const hostRank = (h: string): number => (h === '' ? 2 : h.startsWith('*.') ? 1 : 0);
  return hostRank(a.host) - hostRank(b.host) || a.host.localeCompare(b.host) ||
    b.path.length - a.path.length || (a.pathType === b.pathType ? 0 : a.pathType === 'Exact' ? -1 : 1) || a.path.localeCompare(b.path);
}

const MIN_POOL = 4;

/**
 * Slots for a pool: room for 1.5× the endpoints, in powers of two, at least 4 once it has any; shrinks
 * only far below, and only when `mayShrink` agrees (see PlanMemo.mayShrink), to avoid flapping. A
 * pool that never had endpoints has no slots (at ten thousand backends, empty backup pools alone
 * would be tens of thousands of servers).
 */
export function poolSize(wanted: number, current: number, mayShrink: (low: boolean) => boolean = () => true): number {
  if (wanted === 0 && current === 0) return 0;
  const target = Math.max(MIN_POOL, 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(wanted * 1.5)))));
  if (wanted > current) return target;
  const low = current > MIN_POOL && wanted <= current / 4;
  if (mayShrink(low) && low) return target;
  return Math.max(current, MIN_POOL);
}

/**
 * How long a pool must stay far below its size before it shrinks. Growing needs a reload, and so
 * does shrinking: a Service whose endpoints come and go (a Deployment scaled 0 ↔ 50) keeps its
 * slots, and the changes go live at runtime.
 */
export const SHRINK_AFTER_MS = 60_000;

function slotState(e: Endpoint): SlotState {
  return e.ready && !e.terminating ? 'ready' : 'drain';
}

/** Splits endpoints into primary and backup for an edge, by the backend's failover policy. */
export function splitByPolicy(b: Backend, edge: EdgeTarget): { primary: Endpoint[]; backup: Endpoint[] } {
  const p = b.failover;
  if (p.kind === 'none') return { primary: b.endpoints, backup: [] };
  if (p.kind === 'clusters') {
    const first = p.order.find((c) => b.endpoints.some((e) => e.cluster === c && e.ready)) ?? p.order[0];
    return { primary: b.endpoints.filter((e) => e.cluster === first), backup: b.endpoints.filter((e) => e.cluster !== first) };
  }
  return { primary: b.endpoints.filter((e) => e.zone === edge.zone), backup: b.endpoints.filter((e) => e.zone !== edge.zone) };
}

/**
 * Places endpoints in slots, keeping every endpoint in the slot it already has. A drained endpoint
 * stays (in drain) only while its slot still has sessions; then its slot is freed.
 */
function fillPool(prefix: 'p' | 'b', all: Endpoint[], current: Map<string, string> | undefined, backend: string, opts: PlanOptions, memo: PlanMemo | undefined, fixed?: number): PlannedSlot[] {
  // Slots by the address they hold now (two clusters can report the same address).
  const byAddress = new Map<string, string[]>();
  for (const [n, at] of current ?? []) if (at !== '' && n.startsWith(prefix)) byAddress.set(at, [...(byAddress.get(at) ?? []), n]);
  const slotOf = (e: Endpoint): string | undefined => byAddress.get(`${e.address}:${e.port}`)?.[0];
  const endpoints = all.filter((e) => {
    if (!opts.drained?.(e)) return true;
    const slot = slotOf(e);
    return slot !== undefined && (opts.sessions?.(backend, slot) ?? 1) > 0;
  });
  const own = new RegExp(`^${prefix}\\d+$`);
  const existing = [...(current?.keys() ?? [])].filter((n) => own.test(n)).length;
  // Without a memo (a plan from scratch) a pool shrinks at once; with one, after SHRINK_AFTER_MS.
  const size = fixed ?? poolSize(endpoints.length, existing, memo ? (low) => memo.mayShrink(`${backend}/${prefix}`, low) : undefined);
  const slots: PlannedSlot[] = Array.from({ length: size }, (_, i) => ({ name: `${prefix}${i}`, backup: prefix === 'b', ...PLACEHOLDER, state: 'maint' as SlotState }));
  const placed = new Set<Endpoint>();
  const sorted = [...endpoints].sort((a, b) => `${a.address}:${a.port}`.localeCompare(`${b.address}:${b.port}`) || a.cluster.localeCompare(b.cluster));
  const slotAt = new Map(slots.map((s) => [s.name, s]));
  for (const e of sorted) {
    const held = byAddress.get(`${e.address}:${e.port}`) ?? [];
    const slot = held.map((n) => slotAt.get(n)).find((x) => x !== undefined && !x.endpoint);
    if (slot) {
      const drained = opts.drained?.(e) === true;
      Object.assign(slot, { address: e.address, port: e.port, state: drained ? 'drain' : slotState(e), endpoint: e, ...(drained ? { drained } : {}) });
      placed.add(e);
    }
  }
  for (const e of sorted) {
    if (placed.has(e) || opts.drained?.(e)) continue;
    const slot = slots.find((s) => !s.endpoint);
    if (!slot) break; // only a fixed pool (a spare keeping a moving backend) can be full
    Object.assign(slot, { address: e.address, port: e.port, state: slotState(e), endpoint: e });
  }
  return slots;
}

/**
 * What planEdge computed last time, to reuse: routing while the model's routes are the same objects,
 * and a backend's slots while its model entry and its slots on the edge are. (Drains plan afresh.)
 */
export class PlanMemo {
  routing: { routes: FederatedModel['routes']; defaultRoute: FederatedModel['defaultRoute']; aliases: PlanOptions['aliases']; plan: RoutingPlan } | undefined;
  readonly slots = new WeakMap<Backend, { current: Map<string, string> | undefined; slots: PlannedSlot[] }>();
  /** Pool (`backend/p` or `backend/b`) → since when it has been far below its size. */
  private readonly lowSince = new Map<string, number>();

  /** Whether a pool far below its size (`low`) may shrink now: once it has been so for SHRINK_AFTER_MS. */
  mayShrink(pool: string, low: boolean, now = Date.now()): boolean {
    if (!low) {
      this.lowSince.delete(pool);
      return false;
    }
    const since = this.lowSince.get(pool) ?? now;
    this.lowSince.set(pool, since);
    if (now - since < SHRINK_AFTER_MS) return false;
    this.lowSince.delete(pool);
    return true;
  }
}

export function planEdge(model: FederatedModel, edge: EdgeTarget, current: CurrentSlots = new Map(), opts: PlanOptions = {}, memo?: PlanMemo): EdgePlan {
  const planner = new BackendPlanner(edge, current, opts, memo);
  for (const b of model.backends) planner.add(b);
  planner.addFreeSpares();
  return { routing: atOnce(routingOf(model, opts, memo)), backends: planner.backends };
}

/** planEdge in short turns of the event loop (a plan from scratch at 10,000 backends takes long). */
export async function planEdgeSliced(model: FederatedModel, edge: EdgeTarget, current: CurrentSlots, opts: PlanOptions, memo: PlanMemo): Promise<EdgePlan> {
  const planner = new BackendPlanner(edge, current, opts, memo);
  const turns = new Turns();
  for (const b of model.backends) {
    planner.add(b);
    if (turns.due) await turns.pause();
  }
  planner.addFreeSpares();
  return { routing: await inTurns(routingOf(model, opts, memo), turns), backends: planner.backends };
}

function* routingOf(model: FederatedModel, opts: PlanOptions, memo: PlanMemo | undefined): Steps<RoutingPlan> {
  const r = memo?.routing;
  const routing = r && r.routes === model.routes && r.defaultRoute === model.defaultRoute && r.aliases === opts.aliases ? r.plan : yield* planRoutingSteps(model, opts.aliases);
  if (memo) memo.routing = { routes: model.routes, defaultRoute: model.defaultRoute, aliases: opts.aliases, plan: routing };
  return routing;
}

/** Plans backends one at a time, in model order (the check budget goes to the first ones). */
class BackendPlanner {
  readonly backends: PlannedBackend[] = [{ name: NOT_FOUND_BACKEND, id: undefined, health: undefined, checked: false, slots: [] }];
  private checkBudget: number;
  private readonly used = new Set<string>();

  constructor(private readonly edge: EdgeTarget, private readonly current: CurrentSlots, private readonly opts: PlanOptions, private readonly memo: PlanMemo | undefined) {
    // Spares are always checked (their structure never changes): their slots come off the budget first.
    this.checkBudget = (edge.maxCheckedSlots ?? DEFAULT_MAX_CHECKED_SLOTS) - (opts.spares?.length ?? 0) * 2 * SPARE_POOL;
  }

  add(b: Backend): void {
    const { opts, memo } = this;
    const spare = opts.aliases?.get(backendKey(b.id));
    const name = spare ?? backendName(b.id);
    const cur = this.current.get(name);
    const hit = opts.drained ? undefined : memo?.slots.get(b);
    let slots = hit && hit.current === cur ? hit.slots : undefined;
    if (!slots) {
      slots = this.pools(name, splitByPolicy(b, this.edge), spare ? SPARE_POOL : undefined);
      // A plan made with drains in force is not one to reuse once they end.
      if (!opts.drained) memo?.slots.set(b, { current: cur, slots });
    }
    if (spare) {
      this.addSpare(spare, b.id, slots);
      return;
    }
    const checked = slots.length <= this.checkBudget;
    if (checked) this.checkBudget -= slots.length;
    this.backends.push({ name, id: b.id, health: b.health, checked, slots });
    const from = opts.moving?.get(backendKey(b.id));
    if (from) this.keepOnSpare(b, from);
  }

  /** A spare keeps serving what fits of a moving backend's endpoints until its routes lead elsewhere. */
  private keepOnSpare(b: Backend, spare: string): void {
    this.addSpare(spare, undefined, this.pools(spare, splitByPolicy(b, this.edge), SPARE_POOL));
  }

  /** The spares no backend uses: every slot free. */
  addFreeSpares(): void {
    for (const name of this.opts.spares ?? []) {
      if (!this.used.has(name)) this.addSpare(name, undefined, this.pools(name, { primary: [], backup: [] }, SPARE_POOL));
    }
  }

  /** Both pools of a backend, primary (`p…`) and backup (`b…`); `fixed`: a spare's pool size. */
  private pools(name: string, split: { primary: Endpoint[]; backup: Endpoint[] }, fixed?: number): PlannedSlot[] {
    const cur = this.current.get(name);
    return [...fillPool('p', split.primary, cur, name, this.opts, this.memo, fixed), ...fillPool('b', split.backup, cur, name, this.opts, this.memo, fixed)];
  }

  /** A spare always has the default checks: its structure never changes with what it serves. */
  private addSpare(name: string, id: BackendId | undefined, slots: PlannedSlot[]): void {
    this.used.add(name);
    this.backends.push({ name, spare: true, id, health: undefined, checked: true, slots });
  }
}

/** The routing maps for the model's routes (to the spares that serve some backends), and the default backend. */
export function planRouting(model: Pick<FederatedModel, 'routes' | 'defaultRoute'>, aliases?: ReadonlyMap<string, string>): RoutingPlan {
  return atOnce(planRoutingSteps(model, aliases));
}

function* planRoutingSteps(model: Pick<FederatedModel, 'routes' | 'defaultRoute'>, aliases?: ReadonlyMap<string, string>): Steps<RoutingPlan> {
  return {
    maps: yield* routingMapsSteps(model.routes, (r) => aliases?.get(backendKey(r.backend)) ?? backendName(r.backend)),
    defaultBackend: model.defaultRoute ? backendName(model.defaultRoute.backend) : NOT_FOUND_BACKEND,
  };
}
