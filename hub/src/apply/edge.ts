import { DataPlaneClient, DataPlaneError, type RuntimeServer } from '@ingressfed/dataplane';
import type { Endpoint, FederatedModel } from '../model/types.js';
import { backendObject, frontendObject, structureHash, type BackendObject, type Frontend } from '../plan/objects.js';
import { FRONTEND_NAME, MANAGED_BACKEND, NOT_FOUND_BACKEND, backendName, planEdge, type CurrentSlots, type EdgePlan, type EdgeTarget } from '../plan/plan.js';
import { FencedError, RefusedConfigError, UnsupportedApiError } from './errors.js';
import { formatStamp, parseStamp } from './stamp.js';

export interface EdgeConfig extends EdgeTarget {
  url: string;
  username: string;
  password: string;
  /** The address clients use to reach this edge (written to Ingress status). */
  publicAddress: string;
}

/** What an apply brings an edge to. */
export interface ApplyInput {
  model: FederatedModel;
  /** Endpoints an operator asked to drain. */
  drained?: (e: Endpoint) => boolean;
  /** The leader's fencing token, stamped on the edge with every transaction. */
  fence?: number;
}

export interface ApplyOutcome {
  edge: string;
  transaction: boolean;
  reloadId: string | undefined;
  /** HAProxy's verdict on the reload of this apply's transaction, if there was one. */
  reloadStatus: string | undefined;
  version: number | undefined;
  runtimeChanges: number;
  /** Abandoned transactions deleted to get under the open-transaction limit. */
  reclaimed: number;
  durationMs: number;
  plan: EdgePlan;
}

interface EdgeState {
  frontend: Frontend | undefined;
  /** Names of the backends the hub owns on the edge. */
  backends: Set<string>;
  slots: CurrentSlots;
  runtime: Map<string, Map<string, RuntimeServer>>;
}

interface PlannedStructure {
  plan: EdgePlan;
  frontend: Frontend;
  backends: BackendObject[];
  /** Hash of the structure: the edge needs a transaction only when its stamp differs. */
  hash: string;
}

/**
 * Brings one edge to the plan for a federated model. Structure (frontend, backends, slot pools) is
 * committed in one transaction only when its hash differs from the one stamped on the edge, so an
 * unchanged model opens no transaction and causes no reload. Slots (address, port, state) are then
 * set through the runtime API, in an order that never leaves a slot serving at a stale address.
 */
export class EdgeApplier {
  readonly client: DataPlaneClient;
  /** The structure HAProxy refused last (hash): not tried again until the plan changes. */
  private refused: { hash: string; message: string } | undefined;
  /** Sessions of drained slots, per backend, as last read (drain progress). */
  readonly sessions = new Map<string, Map<string, number>>();
  /** Each slot as the running HAProxy last reported it (weight, health), per backend. */
  runtime = new Map<string, Map<string, RuntimeServer>>();

  constructor(readonly edge: EdgeConfig) {
    this.client = new DataPlaneClient({ url: edge.url, username: edge.username, password: edge.password });
  }

  async reconcile(input: ApplyInput, signal?: AbortSignal): Promise<ApplyOutcome> {
    const started = Date.now();
    let state = await this.read(signal);
    this.checkFence(state, input.fence);
    await this.readSessions(input, state);
    const want = this.desired(input, state);
    let reloadId: string | undefined;
    let reloadStatus: string | undefined;
    let version: number | undefined;
    let reclaimed = 0;
    const changed = this.needsTransaction(state, want);
    if (changed && this.refused?.hash === want.hash) {
      // Refused before and unchanged since: not sent again, but endpoints keep moving at runtime.
      const message = this.refused.message;
      await this.syncRuntime(want.plan, state, signal);
      throw new RefusedConfigError(this.edge.name, message, false);
    }
    if (changed) {
      try {
        const out = await this.client.transaction(async (tx) => {
          // Re-read inside each attempt: a retry after a version conflict must plan on fresh state.
          const fresh = tx.attempt === 1 ? state : await this.read(signal);
          this.checkFence(fresh, input.fence);
          await this.writeStructure(tx.query, tx.attempt === 1 ? want : this.desired(input, fresh), fresh, input.fence);
        }, { signal, onReclaimed: (n) => (reclaimed += n) });
        reloadId = out.reloadId;
        reloadStatus = out.reload?.status;
        version = out.version;
      } catch (err) {
        if (isRefusal(err)) {
          this.refused = { hash: want.hash, message: (err as Error).message };
          throw new RefusedConfigError(this.edge.name, (err as Error).message, true, { cause: err });
        }
        throw err;
      }
      this.refused = undefined;
      state = await this.read(signal);
    }
    const runtimeChanges = await this.syncRuntime(want.plan, state, signal);
    this.runtime = state.runtime;
    return { edge: this.edge.name, transaction: changed, reloadId, reloadStatus, version, runtimeChanges, reclaimed, durationMs: Date.now() - started, plan: want.plan };
  }

  /**
   * Asks HAProxy whether the structure for `input` is valid, without committing anything: the
   * transaction is written, its configuration checked with `only_validate`, then deleted. Throws a
   * RefusedConfigError when HAProxy refuses it.
   */
  async validate(input: ApplyInput, signal?: AbortSignal): Promise<void> {
    const state = await this.read(signal);
    this.checkFence(state, input.fence);
    const want = this.desired(input, state);
    const c = this.client;
    const tx = await c.startTransaction(await c.getVersion());
    const id = tx.id as string;
    try {
      await this.writeStructure({ transaction_id: id }, want, state, input.fence);
      signal?.throwIfAborted();
      await c.validateTransaction(id);
    } catch (err) {
      if (isRefusal(err)) throw new RefusedConfigError(this.edge.name, (err as Error).message, true, { cause: err });
      throw err;
    } finally {
      await c.deleteTransaction(id).catch(() => undefined);
    }
  }

  /**
   * Before the first write of a leadership: checks that the Data Plane API is a version the hub can
   * drive, then deletes transactions left open at older versions (by a writer that crashed).
   * Answers how many were deleted.
   */
  async prepare(): Promise<number> {
    checkApiVersion(this.edge.name, await this.client.apiVersion());
    return this.client.reclaimTransactions();
  }

  private desired(input: ApplyInput, state: EdgeState): PlannedStructure {
    const plan = planEdge(input.model, this.edge, state.slots, { drained: input.drained, sessions: (b, s) => this.sessions.get(b)?.get(s) });
    const frontend = frontendObject(plan, this.edge);
    const backends = plan.backends.map(backendObject);
    return { plan, frontend, backends, hash: structureHash(frontend, backends) };
  }

  private needsTransaction(state: EdgeState, want: PlannedStructure): boolean {
    const wanted = new Set(want.backends.map((b) => b.name));
    return parseStamp(state.frontend?.description).config !== want.hash ||
      want.backends.some((b) => !state.backends.has(b.name)) || [...state.backends].some((n) => !wanted.has(n));
  }

  /** A leader writes its fence with every transaction; one that finds a newer fence was deposed. */
  private checkFence(state: EdgeState, fence: number | undefined): void {
    const seen = parseStamp(state.frontend?.description).fence;
    if (fence !== undefined && seen !== undefined && seen > fence) {
      throw new FencedError(`edge ${this.edge.name} was written by a newer leader (fence ${seen} > ${fence}); not writing`);
    }
  }

  private async read(signal?: AbortSignal): Promise<EdgeState> {
    const c = this.client;
    signal?.throwIfAborted();
    const frontend = await c.unwrap('get frontend', c.api.GET('/services/haproxy/configuration/frontends/{name}', { params: { path: { name: FRONTEND_NAME } } }))
      .then((r) => r.data, (err: unknown) => {
        if (err instanceof DataPlaneError && err.httpStatus === 404) return undefined;
        throw err;
      });
    const list = (await c.unwrap('list backends', c.api.GET('/services/haproxy/configuration/backends'))).data;
    const backends = new Set(list.map((b) => b.name).filter((n) => MANAGED_BACKEND.test(n)));
    const slots: CurrentSlots = new Map();
    const runtime = new Map<string, Map<string, RuntimeServer>>();
    for (const name of backends) {
      if (name === NOT_FOUND_BACKEND) continue;
      signal?.throwIfAborted();
      const byName = new Map<string, RuntimeServer>();
      const at = new Map<string, string>();
      for (const s of await c.listRuntimeServers(name)) {
        if (!s.name) continue;
        byName.set(s.name, s);
        // Free slots (maint) are listed too, with no endpoint: the pool size is part of the state.
        at.set(s.name, s.admin_state === 'maint' ? '' : `${s.address ?? ''}:${s.port ?? ''}`);
      }
      runtime.set(name, byName);
      slots.set(name, at);
    }
    return { frontend, backends, slots, runtime };
  }

  /** Reads current sessions of the backends that have drained endpoints. */
  private async readSessions(input: ApplyInput, state: EdgeState): Promise<void> {
    this.sessions.clear();
    const drained = input.drained;
    if (!drained) return;
    for (const b of input.model.backends) {
      if (!b.endpoints.some(drained)) continue;
      const name = backendName(b.id);
      if (!state.backends.has(name)) continue;
      this.sessions.set(name, await this.client.serverSessions(name));
    }
  }

  private async writeStructure(query: { transaction_id: string }, want: PlannedStructure, state: EdgeState, fence: number | undefined): Promise<void> {
    const c = this.client;
    const q = { ...query, full_section: true };
    for (const b of want.backends) {
      if (state.backends.has(b.name)) {
        await c.unwrap(`replace backend ${b.name}`, c.api.PUT('/services/haproxy/configuration/backends/{name}', { params: { path: { name: b.name }, query: q }, body: b }));
      } else {
        await c.unwrap(`create backend ${b.name}`, c.api.POST('/services/haproxy/configuration/backends', { params: { query: q }, body: b }));
      }
    }
    const fe = { ...want.frontend, description: formatStamp({ config: want.hash, fence }) };
    if (state.frontend) {
      await c.unwrap('replace frontend', c.api.PUT('/services/haproxy/configuration/frontends/{name}', { params: { path: { name: FRONTEND_NAME }, query: q }, body: fe }));
    } else {
      await c.unwrap('create frontend', c.api.POST('/services/haproxy/configuration/frontends', { params: { query: q }, body: fe }));
    }
    const wanted = new Set(want.backends.map((b) => b.name));
    for (const name of state.backends) {
      if (wanted.has(name)) continue;
      await c.unwrap(`delete backend ${name}`, c.api.DELETE('/services/haproxy/configuration/backends/{name}', { params: { path: { name }, query } }));
    }
  }

  /**
   * Sets each slot's address, port and admin state where the running HAProxy differs from the plan.
   * The Data Plane API applies a runtime PUT's state before its address, so a slot that moves is put
   * in maint, then moved, then given its state, each in its own call: it never serves at an old or
   * placeholder address.
   */
  private async syncRuntime(plan: EdgePlan, state: EdgeState, signal?: AbortSignal): Promise<number> {
    let changes = 0;
    for (const b of plan.backends) {
      const running = state.runtime.get(b.name);
      for (const slot of b.slots) {
        const cur = running?.get(slot.name);
        if (!cur) continue; // not on the edge (its structure was refused): nothing to set
        const moves = slot.state !== 'maint' && (cur.address !== slot.address || cur.port !== slot.port);
        const steps: RuntimeServer[] = [];
        if (moves && cur.admin_state !== 'maint') steps.push({ admin_state: 'maint' });
        if (moves) steps.push({ address: slot.address, port: slot.port });
        if (moves ? slot.state !== 'maint' : cur.admin_state !== slot.state) steps.push({ admin_state: slot.state });
        for (const step of steps) {
          signal?.throwIfAborted();
          await this.client.setRuntimeServer(b.name, slot.name, step);
        }
        if (steps.length > 0) changes++;
      }
    }
    return changes;
  }
}

/**
 * The oldest Data Plane API the hub drives: runtime server PUT with address, port and weight arrived
 * in 3.3.6 and 3.4.0; v2 has other paths altogether.
 */
export const MIN_API_VERSION = [3, 3, 6] as const;

/** Throws an UnsupportedApiError unless `version` (`/v3/info` api.version, e.g. 'v3.4.2 8c7bce5') is new enough. */
export function checkApiVersion(edge: string, version: string): void {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  const have = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
  const cmp = have ? have.map((n, i) => n - (MIN_API_VERSION[i] ?? 0)).find((d) => d !== 0) ?? 0 : -1;
  if (!have || have[0] !== MIN_API_VERSION[0] || cmp < 0) throw new UnsupportedApiError(edge, version, MIN_API_VERSION.join('.'));
}

/** HAProxy (or the API's schema) refused the configuration: retrying the same plan cannot help. */
function isRefusal(err: unknown): boolean {
  return err instanceof DataPlaneError && (err.code === 'INGRESSFED_ERR_DPAPI_INVALID' || err.code === 'INGRESSFED_ERR_DPAPI_RELOAD_FAILED');
}
