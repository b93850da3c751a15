import { DataPlaneClient, type RuntimeServer } from '@ingressfed/dataplane';
import type { Endpoint, FederatedModel } from '../model/types.js';
import { backendObject, frontendObject, sameStructure, type BackendObject, type Frontend } from '../plan/objects.js';
import { FRONTEND_NAME, MANAGED_BACKEND, backendName, planEdge, type CurrentSlots, type EdgePlan, type EdgeTarget } from '../plan/plan.js';

export interface EdgeConfig extends EdgeTarget {
  url: string;
  username: string;
  password: string;
  /** The address clients use to reach this edge (written to Ingress status). */
  publicAddress: string;
}

/** This hub was deposed: a newer leader has written to the edge. */
export class FencedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FencedError';
  }
}

const FENCE_PREFIX = 'ingressfed fence=';

function fenceOf(fe: Frontend | undefined): number | undefined {
  const d = fe?.description;
  return typeof d === 'string' && d.startsWith(FENCE_PREFIX) ? Number(d.slice(FENCE_PREFIX.length)) : undefined;
}

export const fenceDescription = (fence: number): string => `${FENCE_PREFIX}${fence}`;

export interface ApplyOutcome {
  edge: string;
  transaction: boolean;
  reloadId: string | undefined;
  /** HAProxy's verdict on the reload of this apply's transaction, if there was one. */
  reloadStatus: string | undefined;
  version: number | undefined;
  runtimeChanges: number;
  durationMs: number;
  plan: EdgePlan;
}

interface EdgeState {
  frontend: Frontend | undefined;
  backends: Map<string, BackendObject>;
  slots: CurrentSlots;
  runtime: Map<string, Map<string, RuntimeServer>>;
}

/**
 * Brings one edge to the plan for a federated model: reads what the edge has, commits one transaction
 * when the structure differs, then sets slots (address, port, state) through the runtime API. Reads
 * first and writes only differences, so an unchanged model writes nothing.
 */
export class EdgeApplier {
  readonly client: DataPlaneClient;

  constructor(readonly edge: EdgeConfig) {
    this.client = new DataPlaneClient({ url: edge.url, username: edge.username, password: edge.password });
  }

  private async read(): Promise<EdgeState> {
    const c = this.client;
    const fes = (await c.unwrap('list frontends', c.api.GET('/services/haproxy/configuration/frontends', { params: { query: { full_section: true } } }))).data;
    const bes = (await c.unwrap('list backends', c.api.GET('/services/haproxy/configuration/backends', { params: { query: { full_section: true } } }))).data;
    const backends = new Map<string, BackendObject>();
    for (const b of bes) if (MANAGED_BACKEND.test(b.name)) backends.set(b.name, b);
    const slots: CurrentSlots = new Map();
    const runtime = new Map<string, Map<string, RuntimeServer>>();
    for (const name of backends.keys()) {
      if (Object.keys(backends.get(name)?.servers ?? {}).length === 0) continue;
      const servers = await c.listRuntimeServers(name);
      const byName = new Map<string, RuntimeServer>();
      const at = new Map<string, string>();
      for (const s of servers) {
        if (!s.name) continue;
        byName.set(s.name, s);
        // Free slots (maint) are listed too, with no endpoint: the pool size is part of the state.
        at.set(s.name, s.admin_state === 'maint' ? '' : `${s.address ?? ''}:${s.port ?? ''}`);
      }
      runtime.set(name, byName);
      slots.set(name, at);
    }
    return { frontend: fes.find((f) => f.name === FRONTEND_NAME), backends, slots, runtime };
  }

  /** Sessions of drained slots, per backend, as last read (drain progress). */
  readonly sessions = new Map<string, Map<string, number>>();
  /** Each slot as the running HAProxy last reported it (weight, health), per backend. */
  runtime = new Map<string, Map<string, RuntimeServer>>();

  async reconcile(model: FederatedModel, drained?: (e: Endpoint) => boolean, fence?: number): Promise<ApplyOutcome> {
    const started = Date.now();
    let state = await this.read();
    // A leader writes its fence with every transaction; one that finds a newer fence was deposed.
    const seen = fenceOf(state.frontend);
    if (fence !== undefined && seen !== undefined && seen > fence) {
      throw new FencedError(`edge ${this.edge.name} was written by a newer leader (fence ${seen} > ${fence}); not writing`);
    }
    if (drained) await this.readSessions(model, drained, state);
    else this.sessions.clear();
    const plan = planEdge(model, this.edge, state.slots, { drained, sessions: (b, s) => this.sessions.get(b)?.get(s) });
    const fe = frontendObject(plan, this.edge, fence);
    const bes = plan.backends.map(backendObject);
    const wanted = new Set(bes.map((b) => b.name));
    const changed = !sameStructure({ ...fe, description: undefined }, { ...state.frontend, description: undefined }) ||
      bes.some((b) => !sameStructure(b, state.backends.get(b.name))) ||
      [...state.backends.keys()].some((n) => !wanted.has(n));
    let reloadId: string | undefined;
    let reloadStatus: string | undefined;
    let version: number | undefined;
    if (changed) {
      const out = await this.client.transaction(async (tx) => {
        // Re-read inside each attempt: a retry after a version conflict must plan on fresh state.
        const fresh = tx.attempt === 1 ? state : await this.read();
        const newer = fenceOf(fresh.frontend);
        if (fence !== undefined && newer !== undefined && newer > fence) throw new FencedError(`edge ${this.edge.name} was written by a newer leader (fence ${newer} > ${fence})`);
        await this.writeStructure(tx.query, fe, bes, fresh);
      });
      reloadId = out.reloadId;
      reloadStatus = out.reload?.status;
      version = out.version;
      state = await this.read();
    }
    const runtimeChanges = await this.syncRuntime(plan, state);
    this.runtime = state.runtime;
    return { edge: this.edge.name, transaction: changed, reloadId, reloadStatus, version, runtimeChanges, durationMs: Date.now() - started, plan };
  }

  /** Reads current sessions of the backends that have drained endpoints. */
  private async readSessions(model: FederatedModel, drained: (e: Endpoint) => boolean, state: EdgeState): Promise<void> {
    this.sessions.clear();
    for (const b of model.backends) {
      if (!b.endpoints.some(drained)) continue;
      const name = backendName(b.id);
      if (!state.backends.has(name)) continue;
      this.sessions.set(name, await this.client.serverSessions(name));
    }
  }

  private async writeStructure(query: { transaction_id: string }, fe: Frontend, bes: BackendObject[], state: EdgeState): Promise<void> {
    const c = this.client;
    const q = { ...query, full_section: true };
    for (const b of bes) {
      if (state.backends.has(b.name)) {
        await c.unwrap(`replace backend ${b.name}`, c.api.PUT('/services/haproxy/configuration/backends/{name}', { params: { path: { name: b.name }, query: q }, body: b }));
      } else {
        await c.unwrap(`create backend ${b.name}`, c.api.POST('/services/haproxy/configuration/backends', { params: { query: q }, body: b }));
      }
    }
    if (state.frontend) {
      await c.unwrap('replace frontend', c.api.PUT('/services/haproxy/configuration/frontends/{name}', { params: { path: { name: FRONTEND_NAME }, query: q }, body: fe }));
    } else {
      await c.unwrap('create frontend', c.api.POST('/services/haproxy/configuration/frontends', { params: { query: q }, body: fe }));
    }
    const wanted = new Set(bes.map((b) => b.name));
    for (const name of state.backends.keys()) {
      if (wanted.has(name)) continue;
      await c.unwrap(`delete backend ${name}`, c.api.DELETE('/services/haproxy/configuration/backends/{name}', { params: { path: { name }, query } }));
    }
  }

  /** Sets each slot's address, port and admin state where the running HAProxy differs from the plan. */
  private async syncRuntime(plan: EdgePlan, state: EdgeState): Promise<number> {
    let changes = 0;
    for (const b of plan.backends) {
      const running = state.runtime.get(b.name);
      for (const slot of b.slots) {
        const cur = running?.get(slot.name);
        const change: RuntimeServer = {};
        if (slot.state !== 'maint' && (cur?.address !== slot.address || cur?.port !== slot.port)) {
          change.address = slot.address;
          change.port = slot.port;
        }
        if (cur?.admin_state !== slot.state) change.admin_state = slot.state;
        if (Object.keys(change).length === 0) continue;
        await this.client.setRuntimeServer(b.name, slot.name, change);
        changes++;
      }
    }
    return changes;
  }
}
