import { DataPlaneClient, DataPlaneError, type RuntimeServer } from '@ingressfed/dataplane';
import type { Endpoint, FederatedModel } from '../model/types.js';
import { backendHash, backendObject, frontendHash, frontendObject, sha, type Frontend } from '../plan/objects.js';
import {
  FRONTEND_NAME, MANAGED_BACKEND, PlanMemo, backendName, planEdgeSliced, type EdgePlan, type EdgeTarget, type PlannedBackend, type PlannedSlot,
} from '../plan/plan.js';
import { FencedError, RefusedConfigError, ReloadFailedError, UnsupportedApiError, isReloadFailure } from './errors.js';
import { inParallel } from './parallel.js';
import { readSlots, sameSlots, slotAt, syncSlots, type SlotRecord } from './slots.js';
import { DEFAULT_SPARES, aliasesOnEdge, planSpares, type SparePlan } from './spares.js';
import { MapSync, readEntriesUnlessDown, readMaps, type MapState } from './maps.js';
import { isRuntimeUnavailable, slotsDiffer, slotsFromConfig } from './runtime-down.js';
import { formatStamp, parseStamp } from './stamp.js';
import { withRedirects } from '../plan/routing.js';
import { pruneTls, readTls, syncTls, type EdgeTls, type TlsState } from './tls.js';
import { Turns } from '../turns.js';

export interface EdgeConfig extends EdgeTarget {
  url: string;
  username: string;
  password: string;
  /** The address clients use to reach this edge (written to Ingress status). */
  publicAddress: string;
  /** PEM of the CA that signs the Data Plane API's certificate (https), when the system's trust store does not hold it. */
  ca?: string;
  /** The certificate (PEM) for HTTPS clients naming no host the edge has one for; default: a self-signed one. */
  defaultCertificate?: { cert: string; key: string };
}

/** What an apply brings an edge to. */
export interface ApplyInput {
  model: FederatedModel;
  /** Endpoints an operator asked to drain. */
  drained?: (e: Endpoint) => boolean;
  /** The leader's fencing token, stamped on the edge with every transaction. */
  fence?: number;
  /**
   * The edge has been idle a while (the loop says): spare backends are made if fewer than half are
   * free, and map files changed at runtime are written.
   */
  idle?: boolean;
  /**
   * The model is still changing (a burst of records is arriving): what can go live at runtime does,
   * and the transaction waits (the outcome says `deferred`), so that one reload takes the whole
   * burst rather than each part of it.
   */
  deferTransaction?: boolean;
  /** What the edge serves over HTTPS (with an HTTPS port): certificate files and the hosts each serves. */
  tls?: EdgeTls;
}

export interface ApplyOutcome {
  edge: string;
  transaction: boolean;
  /** A transaction is needed and was put off (ApplyInput.deferTransaction): the edge is not at the plan yet. */
  deferred?: boolean;
  reloadId: string | undefined;
  /** HAProxy's verdict on the reload of this apply's transaction, if there was one. */
  reloadStatus: string | undefined;
  version: number | undefined;
  runtimeChanges: number;
  /** Routing map entries added, changed or removed at runtime. */
  mapChanges: number;
  /** Abandoned transactions deleted to get under the open-transaction limit. */
  reclaimed: number;
  durationMs: number;
  /** Where the time went: reading the edge, planning, the transaction (with its reload), runtime slots, maps. */
  phasesMs: Record<string, number>;
  plan: EdgePlan;
  /** The runtime API did not answer: everything went by transaction. */
  runtimeUnavailable?: boolean;
}

/** What the hub knows of an edge: read from it, then kept up to date with the hub's own writes. */
interface EdgeState extends SlotRecord {
  /** The configuration version this state is at. */
  version: number;
  frontend: Frontend | undefined;
  /** The backends the hub owns on the edge, each with the structure hash stamped on it ('' if none). */
  backends: Map<string, string>;
  maps: MapState;
  /** Backends served by a spare (backendKey → spare), once known from the routing maps. */
  aliases?: Map<string, string>;
  /** Backends moving from a spare to their own backend (see SparePlan.moving). */
  moving?: Map<string, string>;
  /** The runtime API did not answer when the edge was read: every change goes by transaction (see runtime-down.ts). */
  runtimeDown?: boolean;
  /** The edge's HTTPS files (with an HTTPS port). */
  tls?: TlsState;
}

/** A planned backend and the hash of its structure (its Data Plane API object is built only to be written). */
interface PlannedObject {
  planned: PlannedBackend;
  hash: string;
}

interface PlannedStructure {
  plan: EdgePlan;
  frontend: Frontend;
  frontendHash: string;
  backends: PlannedObject[];
}

/** After a transaction: the edge as the hub now knows it, the plan it wrote, and the reload. */
interface Committed {
  state: EdgeState;
  want: PlannedStructure;
  reloadId: string | undefined;
  reloadStatus: string | undefined;
  version: number | undefined;
  reclaimed: number;
}

/** A structure change: what a transaction writes. */
interface StructureChange {
  backends: PlannedObject[];
  removed: string[];
  frontend: boolean;
}

/** No certificate to serve: the HTTPS bind serves the default certificate only. */
const NO_TLS: EdgeTls = { files: new Map(), entries: [], redirects: [] };
/** No backend to write or delete (the frontend, with its stamp, is written with every transaction). */
const NO_CHANGE: StructureChange = { backends: [], removed: [], frontend: false };
/** Requests in flight within one transaction. */
const WRITE_CONCURRENCY = 8;
/** Backends whose slots are read back between applies, in turn, to notice drift on the edge... */
const VERIFY_SLICE = 256;
/** ...at most this often, so that a burst of changes is not slowed by reads. */
const VERIFY_EVERY_MS = 1000;

/**
 * Brings one edge to the plan for a federated model, with work proportional to the change. The hub
 * reads the edge once, then keeps its own record of it: each apply reads only the configuration
 * version (anything written by someone else changes it, and the edge is read again); between
 * applies the slots of a slice of backends and one routing map are read back in turn (verify). A
 * transaction is opened only when a backend's or the frontend's structure hash differs from the one
 * stamped on it, or a backend is new or gone; it writes only those, and the backends changed at
 * runtime since their configuration was written. Slots (address, port, state) are set through the
 * runtime API, in an order that never leaves a slot serving at a stale address, and routes as
 * runtime map entries; new Services go to spare backends (see spares.ts) so that they need no reload.
 */
export class EdgeApplier {
  readonly client: DataPlaneClient;
  /** The structure HAProxy refused last (hash): not tried again until the plan changes. */
  private refused: { hash: string; message: string } | undefined;
  /** The structure whose reload failed once after its commit (hash): planned and sent again once. */
  private reloadFailed: string | undefined;
  /** Sessions of drained slots, per backend, as last read (drain progress). */
  readonly sessions = new Map<string, Map<string, number>>();
  /** Each slot as the running HAProxy last reported it (weight, health), per backend. */
  runtime = new Map<string, Map<string, RuntimeServer>>();
  private known: EdgeState | undefined;
  private verifyCursor = 0;
  private verifiedAt = 0;
  private readonly memo = new PlanMemo();
  /** Each planned backend's structure hash, while its slots, checks and health are the same. */
  private readonly hashes = new WeakMap<PlannedSlot[], { checked: boolean; health: unknown; hash: string }>();
  /** Planned slots found already as planned on the edge (a plan reused while the record of the edge did not change). */
  private settled = new WeakSet<PlannedSlot[]>();
  private sparesMemo: { backends: FederatedModel['backends']; version: number; aliases: Map<string, string> | undefined; refill: boolean; out: SparePlan } | undefined;

  /** Seconds each plan took (planning and comparing with the edge), for the hub's metrics. */
  onPlanned: (seconds: number) => void = () => undefined;

  private readonly maps: MapSync;

  constructor(readonly edge: EdgeConfig) {
    this.client = new DataPlaneClient({ url: edge.url, username: edge.username, password: edge.password, ca: edge.ca });
    this.maps = new MapSync(this.client);
  }

  async reconcile(input: ApplyInput, signal?: AbortSignal): Promise<ApplyOutcome> {
    try {
      return await this.reconcileKnown(input, signal);
    } catch (err) {
      // Whatever happened on the edge, the next apply reads it again.
      this.known = undefined;
      throw err;
    }
  }

  private async reconcileKnown(input: ApplyInput, signal?: AbortSignal): Promise<ApplyOutcome> {
    const started = Date.now();
    const phases = new Phases();
    let state = await this.current(signal);
    this.checkFence(state, input.fence);
    await this.readSessions(input, state);
    phases.end('read');
    // Certificates first: the crt-list a new HTTPS bind names must exist before the transaction.
    if (state.tls) await syncTls(this.client, state.tls, input.tls ?? NO_TLS, this.edge.defaultCertificate, () => this.maps.save(state.maps));
    phases.end('tls');
    let want = await this.desired(input, state);
    phases.end('plan');
    const change = this.structureChange(state, want);
    const changeId = change && changeHash(change, want);
    const refused = this.refused;
    if (change && refused && refused.hash === changeId) {
      // Refused before and unchanged since: not sent again, but endpoints and routes to existing
      // backends keep moving at runtime.
      await syncSlots(this.client, want.plan, state, this.settled, signal);
      await this.maps.sync(state.maps, want.plan.routing.maps, (b) => state.backends.has(b), signal);
      throw new RefusedConfigError(this.edge.name, refused.message, false);
    }
    let mapChanges = 0;
    let runtimeChanges = 0;
    let committed: Committed | undefined;
    if (change && changeId) {
      // Before the reload, what can go live now: slots of the backends the edge has (spares
      // included), then the routes to them; and the files the reload loads.
      if (state.runtimeDown !== true) runtimeChanges += await syncSlots(this.client, want.plan, state, this.settled, signal);
      mapChanges += await this.maps.sync(state.maps, want.plan.routing.maps, (b) => state.backends.has(b), signal);
      phases.end('maps');
      if (input.deferTransaction) return this.outcome(state, started, phases, want, undefined, runtimeChanges, mapChanges, true);
      await this.maps.save(state.maps);
      committed = await this.commit(input, state, want, changeId, signal);
      ({ state, want } = committed);
      phases.end('transaction');
    }
    if (state.runtimeDown !== true) runtimeChanges += await syncSlots(this.client, want.plan, state, this.settled, signal);
    phases.end('runtime');
    mapChanges += await this.maps.sync(state.maps, want.plan.routing.maps, undefined, signal);
    // Files are written when the edge is idle, and at least every 10 s while it is not (MapSync).
    if (input.idle || this.maps.saveOverdue()) await this.maps.save(state.maps);
    phases.end('maps');
    // Certificates the crt-list (reloaded already) no longer names.
    if (state.tls) await pruneTls(this.client, state.tls, input.tls ?? NO_TLS);
    return this.outcome(state, started, phases, want, committed, runtimeChanges, mapChanges, false);
  }

  /** The end of an apply: the hub's record of the edge is `state`. */
  private outcome(state: EdgeState, started: number, phases: Phases, want: PlannedStructure, committed: Committed | undefined, runtimeChanges: number, mapChanges: number, deferred: boolean): ApplyOutcome {
    // Without the runtime API the edge is read again each time, so that its return is noticed.
    this.known = state.runtimeDown ? undefined : state;
    this.runtime = state.runtime;
    return {
      edge: this.edge.name, transaction: committed !== undefined, deferred, reloadId: committed?.reloadId, reloadStatus: committed?.reloadStatus,
      version: committed?.version, runtimeChanges, mapChanges, reclaimed: committed?.reclaimed ?? 0,
      durationMs: Date.now() - started, phasesMs: phases.ms, plan: want.plan, ...(state.runtimeDown ? { runtimeUnavailable: true } : {}),
    };
  }

  /**
   * One transaction bringing the edge's structure to the plan, and the hub's record after it. A
   * retry after a version conflict reads the edge again and plans on that. A refusal by HAProxy is
   * remembered (by `changeId`) so that the same structure is not sent again.
   */
  private async commit(input: ApplyInput, state: EdgeState, want: PlannedStructure, changeId: string, signal?: AbortSignal): Promise<Committed> {
    let written: StructureChange | undefined;
    let reclaimed = 0;
    try {
      const out = await this.client.transaction(async (tx) => {
        if (tx.attempt > 1) {
          state = await this.read(signal);
          this.checkFence(state, input.fence);
          want = await this.desired(input, state);
        }
        // With the backends just changed at runtime (they are written as they are now).
        written = this.structureChange(state, want) ?? NO_CHANGE;
        await this.writeStructure(tx.query, written, want, state, input.fence);
      }, { signal, onReclaimed: (n) => (reclaimed += n) });
      this.refused = undefined;
      this.reloadFailed = undefined;
      const next = await this.committed(state, want, written ?? NO_CHANGE);
      return { state: next, want, reloadId: out.reloadId, reloadStatus: out.reload?.status, version: out.version, reclaimed };
    } catch (err) {
      if (!isRefusal(err)) throw err;
      if (isReloadFailure(err) && this.reloadFailed !== changeId) {
        this.reloadFailed = changeId;
        this.known = undefined;
        throw new ReloadFailedError(this.edge.name, (err as Error).message, { cause: err });
      }
      this.refused = { hash: changeId, message: (err as Error).message };
      throw new RefusedConfigError(this.edge.name, (err as Error).message, true, { cause: err });
    }
  }

  /**
   * Asks HAProxy whether the structure for `input` is valid, without committing anything: the
   * transaction is written, its configuration checked with `only_validate`, then deleted. Throws a
   * RefusedConfigError when HAProxy refuses it.
   */
  async validate(input: ApplyInput, signal?: AbortSignal): Promise<void> {
    const state = await this.current(signal);
    this.checkFence(state, input.fence);
    const want = await this.desired(input, state);
    const c = this.client;
    const tx = await c.startTransaction(state.version);
    const id = tx.id as string;
    try {
      const change = this.structureChange(state, want) ?? NO_CHANGE;
      await this.writeStructure({ transaction_id: id }, change, want, state, input.fence);
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
   * drive, then deletes every transaction left open (by an earlier writer: this leader has opened
   * none yet, and the deletions, like every write, are sent only while the lease is held). Not only
   * those at older versions: a writer killed between creating a transaction and committing it, with
   * nothing committed since, leaves one at the current version (F12). Answers how many were deleted.
   * The edge is read afresh afterwards.
   */
  async prepare(): Promise<number> {
    this.known = undefined;
    checkApiVersion(this.edge.name, await this.client.apiVersion());
    return this.client.reclaimTransactions({ all: true });
  }

  /** The edge as the hub knows it: read again when its configuration version moved. */
  private async current(signal?: AbortSignal): Promise<EdgeState> {
    const known = this.known;
    const version = await this.client.getVersion();
    return known && known.version === version ? known : this.read(signal);
  }

  /** Whether a slice of the edge is due to be read back (see verify). */
  verifyDue(): boolean {
    return this.known !== undefined && Date.now() - this.verifiedAt >= VERIFY_EVERY_MS;
  }

  /**
   * Reads back the slots of the next slice of backends and one routing map, in turn, to notice
   * changes made on the edge by others; answers whether anything differs from the hub's record (the
   * next apply repairs it), naming what differs. Run between applies, and aborted by the next change,
   * so that it never delays one.
   */
  async verify(signal?: AbortSignal): Promise<string[]> {
    const state = this.known;
    if (!state) return [];
    this.verifiedAt = Date.now();
    const names = [...state.backends.keys()];
    const from = this.verifyCursor % Math.max(1, names.length);
    const slice = names.length <= VERIFY_SLICE ? names : [...names.slice(from, from + VERIFY_SLICE), ...names.slice(0, Math.max(0, from + VERIFY_SLICE - names.length))];
    this.verifyCursor = from + VERIFY_SLICE;
    const differ = (await readSlots(this.client, state, slice, signal)).map((b) => `slots of ${b}`);
    const map = await this.maps.verifyNext(state.maps);
    return map ? [...differ, `map ${map}`] : differ;
  }

  private async desired(input: ApplyInput, state: EdgeState): Promise<PlannedStructure> {
    const t0 = performance.now();
    const out = await this.plan(input, state);
    this.onPlanned((performance.now() - t0) / 1000);
    return out;
  }

  /** The plan and its structure hashes; the event loop is yielded between slices of backends. */
  private async plan(input: ApplyInput, state: EdgeState): Promise<PlannedStructure> {
    const { aliases, moving, spares } = this.spares(input, state);
    const planned = await planEdgeSliced(input.model, this.edge, state.slots, { drained: input.drained, sessions: (b, s) => this.sessions.get(b)?.get(s), aliases, moving, spares }, this.memo);
    // HTTPS hosts: their plain HTTP requests are redirected (a map, so that hosts come and go at runtime).
    const plan = state.tls ? { ...planned, routing: withRedirects(planned.routing, input.tls?.redirects ?? []) } : planned;
    const frontend = frontendObject(plan, this.edge, state.maps.files, state.tls?.crtList?.path);
    // A changed crt-list is loaded by the reload of a transaction: its text is part of the stamp.
    const feHash = state.tls?.crtList ? sha(`${frontendHash(frontend)}\n${state.tls.crtList.text}`) : frontendHash(frontend);
    const backends: PlannedObject[] = [];
    const turns = new Turns();
    for (const b of plan.backends) {
      const hit = this.hashes.get(b.slots);
      if (hit && hit.checked === b.checked && hit.health === b.health && b.slots.length > 0) {
        backends.push({ planned: b, hash: hit.hash });
        continue;
      }
      const hash = backendHash(backendObject(b));
      if (b.slots.length > 0) this.hashes.set(b.slots, { checked: b.checked, health: b.health, hash });
      backends.push({ planned: b, hash });
      // Hashing is the costly part of a plan from scratch.
      if (turns.due) await turns.pause();
    }
    return { plan, frontend, frontendHash: feHash, backends };
  }

  /** Which backends spares serve, and which spares the edge should have (kept while the model and the edge are unchanged). */
  private spares(input: ApplyInput, state: EdgeState): SparePlan {
    const m = this.sparesMemo;
    const refill = input.idle === true;
    if (m && m.backends === input.model.backends && m.version === state.version && m.aliases === state.aliases && m.refill === refill) return m.out;
    state.aliases ??= state.maps.entries ? aliasesOnEdge(input.model, state.maps.entries) : new Map();
    const out = planSpares(input.model, this.edge, state.backends, state.aliases, this.target, refill, state.moving);
    state.aliases = out.aliases;
    state.moving = out.moving;
    this.sparesMemo = { backends: input.model.backends, version: state.version, aliases: out.aliases, refill, out };
    return out;
  }

  private get target(): number {
    return this.edge.spareBackends ?? DEFAULT_SPARES;
  }

  /** Work for an idle edge: map files to write, or fewer than half the spare backends free. */
  idleWorkDue(): boolean {
    const known = this.known;
    if (!known) return false;
    return known.maps.unsaved.size > 0 || this.sparesMemo?.out.low === true;
  }

  /** What a transaction must write to bring the edge's structure to `want`; undefined when nothing. */
  private structureChange(state: EdgeState, want: PlannedStructure): StructureChange | undefined {
    const wanted = new Set(want.backends.map((b) => b.planned.name));
    // Without the runtime API a slot moves only with its configuration: such backends are written too.
    const backends = want.backends.filter((b) => state.backends.get(b.planned.name) !== b.hash || (state.runtimeDown === true && slotsDiffer(b.planned, state.slots.get(b.planned.name))));
    const removed = [...state.backends.keys()].filter((n) => !wanted.has(n));
    // Maps HAProxy has not loaded need a reload that loads them: the frontend names them.
    const frontend = parseStamp(state.frontend?.description).config !== want.frontendHash || state.maps.entries === undefined;
    if (backends.length === 0 && removed.length === 0 && !frontend) return undefined;
    // A transaction reloads HAProxy, which would bring backends changed at runtime back to their
    // configuration: it writes them as they are now.
    const diverged = want.backends.filter((b) => state.diverged.has(b.planned.name) && state.backends.get(b.planned.name) === b.hash);
    return { backends: [...backends, ...diverged], removed, frontend };
  }

  /** A leader writes its fence with every transaction; one that finds a newer fence was deposed. */
  private checkFence(state: EdgeState, fence: number | undefined): void {
    const seen = parseStamp(state.frontend?.description).fence;
    if (fence !== undefined && seen !== undefined && seen > fence) {
      throw new FencedError(`edge ${this.edge.name} carries fence ${seen}, above this leader's ${fence}: a newer leader wrote to it, or the fence counter was lost; not writing`, seen);
    }
  }

  /** Reads the whole edge: the frontend, the hub's backends with their stamps, and every slot. */
  private async read(signal?: AbortSignal): Promise<EdgeState> {
    this.verifiedAt = Date.now();
    this.settled = new WeakSet();
    const c = this.client;
    signal?.throwIfAborted();
    const version = await c.getVersion();
    const frontend = await c.unwrap('get frontend', c.api.GET('/services/haproxy/configuration/frontends/{name}', { params: { path: { name: FRONTEND_NAME } } }))
      .then((r) => r.data, (err: unknown) => {
        if (err instanceof DataPlaneError && err.httpStatus === 404) return undefined;
        throw err;
      });
    const list = (await c.unwrap('list backends', c.api.GET('/services/haproxy/configuration/backends', { params: { query: { full_section: true } } }))).data
      .filter((b) => MANAGED_BACKEND.test(b.name));
    const backends = new Map(list.map((b) => [b.name, parseStamp(b.description).config ?? '']));
    let runtimeDown = false;
    const state: EdgeState = {
      version, frontend, backends, slots: new Map(), runtime: new Map(), maps: await readMaps(c, () => (runtimeDown = true)), diverged: new Set(),
      ...(this.edge.httpsBindPort === undefined ? {} : { tls: await readTls(c) }),
    };
    try {
      if (!runtimeDown) await readSlots(this.client, state, [...backends.keys()], signal);
    } catch (err) {
      if (!isRuntimeUnavailable(err)) throw err;
      runtimeDown = true;
    }
    if (runtimeDown) {
      // The configuration is what a reload runs: the record starts from it.
      slotsFromConfig(state, list.map((b) => ({ name: b.name, servers: b.servers as Record<string, { address?: string; port?: number | null; maintenance?: string }> | undefined })));
      state.runtimeDown = true;
      return state;
    }
    for (const b of list) if (!sameSlots(b.servers ?? {}, state.runtime.get(b.name))) state.diverged.add(b.name);
    return state;
  }

  /** After a commit: the hub's record takes the written structure, slots included. */
  private async committed(state: EdgeState, want: PlannedStructure, written: StructureChange): Promise<EdgeState> {
    const next: EdgeState = {
      version: await this.client.getVersion(),
      frontend: { ...want.frontend, description: formatStamp({ config: want.frontendHash, fence: parseStamp(state.frontend?.description).fence }) },
      backends: new Map(state.backends), slots: new Map(state.slots), runtime: new Map(state.runtime),
      // Maps stored as files were loaded by the reload.
      maps: state.maps.entries ? state.maps : { files: state.maps.files, entries: await readEntriesUnlessDown(this.client, () => undefined), unsaved: new Set() },
      ...(state.runtimeDown ? { runtimeDown: true } : {}),
      diverged: new Set(state.diverged),
      aliases: state.aliases,
      moving: state.moving,
      ...(state.tls ? { tls: state.tls } : {}),
    };
    for (const n of written.removed) {
      next.backends.delete(n);
      next.slots.delete(n);
      next.runtime.delete(n);
      next.diverged.delete(n);
    }
    const turns = new Turns();
    for (const b of written.backends) {
      if (turns.due) await turns.pause();
      next.backends.set(b.planned.name, b.hash);
      next.diverged.delete(b.planned.name);
      this.settled.delete(b.planned.slots);
      // The reload runs what the transaction wrote: each slot's address and maintenance are in the
      // configuration (drain is not; syncSlots sets it next). Reading ten thousand backends back
      // here would take longer than the transaction; the read-back between applies checks them.
      const runtime = new Map<string, RuntimeServer>(b.planned.slots.map((slot) => [slot.name,
        { address: slot.address, port: slot.port, admin_state: slot.state === 'maint' ? 'maint' : 'ready', weight: 1 }]));
      next.runtime.set(b.planned.name, runtime);
      next.slots.set(b.planned.name, new Map([...runtime].map(([n, x]) => [n, slotAt(x)])));
    }
    return next;
  }

  /** Reads current sessions of the backends that have drained endpoints. */
  private async readSessions(input: ApplyInput, state: EdgeState): Promise<void> {
    this.sessions.clear();
    const drained = input.drained;
    // Without the runtime API no session is known: drained slots are kept (see fillPool).
    if (!drained || state.runtimeDown) return;
    for (const b of input.model.backends) {
      if (!b.endpoints.some(drained)) continue;
      const name = backendName(b.id);
      if (!state.backends.has(name)) continue;
      this.sessions.set(name, await this.client.serverSessions(name));
    }
  }

  private async writeStructure(query: { transaction_id: string }, change: StructureChange, want: PlannedStructure, state: EdgeState, fence: number | undefined): Promise<void> {
    const c = this.client;
    const q = { ...query, full_section: true };
    // One request per backend (the API has no bulk form): several in flight, so that ten thousand
    // of them are not ten thousand round trips end to end.
    await inParallel(change.backends, WRITE_CONCURRENCY, async ({ planned, hash }) => {
      const b = { ...backendObject(planned), description: formatStamp({ config: hash, fence: undefined }) };
      if (state.backends.has(b.name)) {
        await c.unwrap(`replace backend ${b.name}`, c.api.PUT('/services/haproxy/configuration/backends/{name}', { params: { path: { name: b.name }, query: q }, body: b }));
      } else {
        await c.unwrap(`create backend ${b.name}`, c.api.POST('/services/haproxy/configuration/backends', { params: { query: q }, body: b }));
      }
    });
    const fe = { ...want.frontend, description: formatStamp({ config: want.frontendHash, fence }) };
    if (state.frontend) {
      await c.unwrap('replace frontend', c.api.PUT('/services/haproxy/configuration/frontends/{name}', { params: { path: { name: FRONTEND_NAME }, query: q }, body: fe }));
    } else {
      await c.unwrap('create frontend', c.api.POST('/services/haproxy/configuration/frontends', { params: { query: q }, body: fe }));
    }
    await inParallel(change.removed, WRITE_CONCURRENCY, async (name) => {
      await c.unwrap(`delete backend ${name}`, c.api.DELETE('/services/haproxy/configuration/backends/{name}', { params: { path: { name }, query } }));
    });
  }

}

/** Milliseconds spent per phase of an apply. */
class Phases {
  readonly ms: Record<string, number> = {};
  private at = Date.now();

  end(name: string): void {
    this.ms[name] = (this.ms[name] ?? 0) + Date.now() - this.at;
    this.at = Date.now();
  }
}

/** Names one structure change (what HAProxy refused is not sent again while it is the same). */
function changeHash(change: StructureChange, want: PlannedStructure): string {
  return sha(JSON.stringify([want.frontendHash, change.backends.map((b) => `${b.planned.name}=${b.hash}`).sort(), [...change.removed].sort()]));
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
