import type { DataPlaneClient, RuntimeServer } from '@ingressfed/dataplane';
import { NOT_FOUND_BACKEND, type CurrentSlots, type EdgePlan, type PlannedSlot } from '../plan/plan.js';
import { Turns } from '../turns.js';
import { inParallel } from './parallel.js';

// The slots of an edge: read from the runtime API, compared with the configuration, and set to the
// plan through the runtime API (never a reload).

/** The hub's record of an edge's slots. */
export interface SlotRecord {
  slots: CurrentSlots;
  runtime: Map<string, Map<string, RuntimeServer>>;
  /**
   * Backends whose slots were changed at runtime since their configuration was written: a reload
   * would bring them back to the configuration, so the next transaction writes them too.
   */
  diverged: Set<string>;
}

/** What a slot holds, as plans compare it: 'address:port', or '' when free (maint). */
export function slotAt(s: RuntimeServer): string {
  return s.admin_state === 'maint' ? '' : `${s.address ?? ''}:${s.port ?? ''}`;
}

/** Reads the slots of some backends into `state` (free slots too: the pool size is part of it). */
export async function readSlots(client: DataPlaneClient, state: SlotRecord, names: string[], signal?: AbortSignal): Promise<string[]> {
  const differ: string[] = [];
  for (const name of names) {
    if (name === NOT_FOUND_BACKEND) continue; // it has no slots
    signal?.throwIfAborted();
    const byName = new Map<string, RuntimeServer>();
    const at = new Map<string, string>();
    for (const s of await client.listRuntimeServers(name)) {
      if (!s.name) continue;
      // Only what the hub uses: a hundred thousand full runtime records would weigh hundreds of MB.
      byName.set(s.name, { address: s.address, port: s.port, admin_state: s.admin_state, operational_state: s.operational_state, weight: s.weight });
      at.set(s.name, slotAt(s));
    }
    const was = state.runtime.get(name);
    state.runtime.set(name, byName);
    // A new map only when something differs (a new map is planned and set again); unchanged slots
    // let the plan of the backend be reused.
    const before = state.slots.get(name);
    const stateMoved = was !== undefined && [...byName].some(([n, x]) => was.get(n)?.admin_state !== x.admin_state);
    if (!before || before.size !== at.size || [...at].some(([n, v]) => before.get(n) !== v) || stateMoved) {
      if (before) differ.push(name);
      state.slots.set(name, at);
    }
  }
  return differ;
}

/**
 * Sets each slot's address, port and admin state where the running HAProxy differs from the plan,
 * and records what it set. The Data Plane API applies a runtime PUT's state before its address, so
 * a slot that moves is put in maint, then moved, then given its state, each in its own call: it
 * never serves at an old or placeholder address. Backends are set several at a time (a first
 * listing or a zone lost changes hundreds), each slot's calls in order. Planned slots in `settled`
 * were found as planned before and are skipped; a backend whose slots all are as planned is added
 * to it.
 */
export async function syncSlots(client: DataPlaneClient, plan: EdgePlan, state: SlotRecord, settled: WeakSet<PlannedSlot[]>, signal?: AbortSignal): Promise<number> {
  const work: Array<{ name: string; running: Map<string, RuntimeServer>; slots: Array<[string, RuntimeServer[]]> }> = [];
  const turns = new Turns();
  for (const b of plan.backends) {
    if (turns.due) await turns.pause();
    // Planned slots the edge was brought to before, and not read or rewritten since: nothing to compare.
    if (settled.has(b.slots)) continue;
    const running = state.runtime.get(b.name);
    if (!running) continue; // not on the edge (its structure was refused): nothing to set
    const slots = b.slots.flatMap((slot): Array<[string, RuntimeServer[]]> => {
      const cur = running.get(slot.name);
      const steps = cur ? stepsTo(cur, slot) : [];
      return steps.length > 0 ? [[slot.name, steps]] : [];
    });
    if (slots.length > 0) work.push({ name: b.name, running, slots });
    else settled.add(b.slots);
  }
  let changes = 0;
  await inParallel(work, RUNTIME_CONCURRENCY, async ({ name, running, slots }) => {
    try {
      for (const [slot, steps] of slots) {
        for (const step of steps) {
          signal?.throwIfAborted();
          await client.setRuntimeServer(name, slot, step);
          Object.assign(running.get(slot) as RuntimeServer, step);
        }
        changes++;
      }
    } finally {
      // What was set, even if not all of it: the record follows the edge.
      state.slots.set(name, new Map([...running].map(([n, x]) => [n, slotAt(x)])));
      state.diverged.add(name);
    }
  });
  return changes;
}

/** Runtime calls per edge in flight at once. */
const RUNTIME_CONCURRENCY = 8;

/** The runtime calls that bring a running slot to its plan, in order (none when it is as planned). */
function stepsTo(cur: RuntimeServer, slot: PlannedSlot): RuntimeServer[] {
  const moves = slot.state !== 'maint' && (cur.address !== slot.address || cur.port !== slot.port);
  const steps: RuntimeServer[] = [];
  if (moves && cur.admin_state !== 'maint') steps.push({ admin_state: 'maint' });
  if (moves) steps.push({ address: slot.address, port: slot.port });
  if (moves ? slot.state !== 'maint' : cur.admin_state !== slot.state) steps.push({ admin_state: slot.state });
  return steps;
}

/** Whether a backend's configured servers say what its running slots are (address, port, maintenance). */
export function sameSlots(configured: Record<string, { address?: string; port?: number | null; maintenance?: string }>, running: Map<string, RuntimeServer> | undefined): boolean {
  for (const [name, srv] of Object.entries(configured)) {
    const rt = running?.get(name);
    if (!rt) return false;
    const maint = srv.maintenance === 'enabled';
    if ((rt.admin_state === 'maint') !== maint || rt.admin_state === 'drain') return false;
    if (!maint && (rt.address !== srv.address || rt.port !== srv.port)) return false;
  }
  return true;
}
