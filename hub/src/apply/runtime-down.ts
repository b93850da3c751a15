import { DataPlaneError, type RuntimeServer } from '@ingressfed/dataplane';
import type { PlannedBackend } from '../plan/plan.js';
import { slotAt, type SlotRecord } from './slots.js';

// When an edge's runtime API is lost (HAProxy's stats socket gone, the Data Plane API unable to reach
// it), runtime changes cannot be made, but structural ones still can: a transaction writes each slot's
// address and maintenance into the configuration, and the map files, and its reload loads them. So
// the hub degrades to transactions for everything until the runtime API answers again.

/** Runtime operations of the Data Plane API client (named as in DataPlaneClient). */
const RUNTIME_OPERATION = /^(list runtime servers|get runtime server|set runtime server|get stats|show map |add to map |set map |delete map )/;

/** Whether `err` says the runtime API is unavailable (not that a request was wrong). */
export function isRuntimeUnavailable(err: unknown): boolean {
  return err instanceof DataPlaneError && err.httpStatus >= 500 && RUNTIME_OPERATION.test(err.operation);
}

interface ConfiguredServer { name?: string; address?: string; port?: number | null; maintenance?: string }

/** The slots of `backends` as their configuration has them (what a reload runs), for a record without the runtime API. */
export function slotsFromConfig(state: SlotRecord, backends: Array<{ name: string; servers?: Record<string, ConfiguredServer> }>): void {
  for (const b of backends) {
    const running = new Map<string, RuntimeServer>();
    for (const [name, s] of Object.entries(b.servers ?? {})) {
      running.set(name, { address: s.address, port: s.port ?? undefined, admin_state: s.maintenance === 'enabled' ? 'maint' : 'ready', weight: 1 });
    }
    state.runtime.set(b.name, running);
    state.slots.set(b.name, new Map([...running].map(([n, x]) => [n, slotAt(x)])));
  }
}

/** Whether a planned backend's slots hold other addresses (or other slots) than `current` records. */
export function slotsDiffer(planned: PlannedBackend, current: ReadonlyMap<string, string> | undefined): boolean {
  if (!current || current.size !== planned.slots.length) return true;
  return planned.slots.some((s) => current.get(s.name) !== (s.state === 'maint' ? '' : `${s.address}:${s.port}`));
}
