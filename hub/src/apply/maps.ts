import { DataPlaneError, type DataPlaneClient } from '@ingressfed/dataplane';
import type { MapPaths } from '../plan/objects.js';
import { MAP_FILES, MAP_KINDS, diffMaps, emptyMaps, mapFileText, type MapKind, type RoutingMaps } from '../plan/routing.js';
import { inTurns, type Steps } from '../turns.js';
import { isRuntimeUnavailable } from './runtime-down.js';

// The routing maps of one edge (see plan/routing.ts): stored as files in the Data Plane API's map
// storage, which HAProxy loads at each reload, and changed at runtime entry by entry, without a
// reload. The files are rewritten from the hub's record before every transaction and soon after
// runtime changes (saveMaps), so a reload or a restart keeps what is live.

export interface MapState {
  /** Where each map file is on the edge, as haproxy.cfg names it. */
  files: MapPaths;
  /** The entries of the running HAProxy; undefined while it has not loaded the maps (no configuration names them yet). */
  entries: RoutingMaps | undefined;
  /** The wanted maps last brought live: equal plans need no comparison. */
  synced?: RoutingMaps;
  /** Maps changed at runtime whose files are not written yet. */
  unsaved: Set<MapKind>;
}

/**
 * Reads the maps of an edge, storing empty files for those it lacks. Without the runtime API
 * (`onRuntimeDown` is told), the running entries are unknown: the maps are then written as files.
 */
export async function readMaps(client: DataPlaneClient, onRuntimeDown?: () => void): Promise<MapState> {
  const stored = new Map((await client.listMapFiles()).map((m) => [m.storage_name ?? '', m.file ?? '']));
  const files = {} as MapPaths;
  for (const kind of MAP_KINDS) {
    const name = MAP_FILES[kind];
    files[kind] = stored.get(name) || ((await client.createMapFile(name, mapFileText(new Map()))).file ?? '');
  }
  // The files may be older than what runs (a hub stopped before writing them): written again.
  return { files, entries: await readEntriesUnlessDown(client, onRuntimeDown), unsaved: new Set(MAP_KINDS) };
}

/** readEntries, or undefined when the runtime API is unavailable (`onRuntimeDown` is told). */
export async function readEntriesUnlessDown(client: DataPlaneClient, onRuntimeDown?: () => void): Promise<RoutingMaps | undefined> {
  try {
    return await readEntries(client);
  } catch (err) {
    if (!onRuntimeDown || !isRuntimeUnavailable(err)) throw err;
    onRuntimeDown();
    return undefined;
  }
}

/** The running entries of every map, or undefined when HAProxy has not loaded them. */
export async function readEntries(client: DataPlaneClient): Promise<RoutingMaps | undefined> {
  const maps = emptyMaps();
  for (const kind of MAP_KINDS) {
    const read = await readMap(client, kind);
    if (!read) return undefined;
    maps[kind] = read;
  }
  return maps;
}

/** One map's running entries; undefined when HAProxy has not loaded it. */
export async function readMap(client: DataPlaneClient, kind: MapKind): Promise<Map<string, string> | undefined> {
  try {
    const out = new Map<string, string>();
    for (const e of await client.mapEntries(MAP_FILES[kind])) if (e.key !== undefined) out.set(e.key, e.value ?? '');
    return out;
  } catch (err) {
    if (err instanceof DataPlaneError && err.httpStatus === 404) return undefined;
    throw err;
  }
}

/**
 * Brings the running maps from `have` to `want` and updates `have` as it goes: additions in one call
 * per map, a call per changed or removed key. Paths are added before the hosts that lead to them and
 * hosts removed before their paths, so no request finds a host without its paths. The files are
 * not written here (dataplaneapi would write a whole map file per call): the maps changed are added
 * to `unsaved`, for saveMaps. Answers the number of entries changed.
 */
export async function syncMaps(client: DataPlaneClient, have: RoutingMaps, want: RoutingMaps, unsaved: Set<MapKind>, signal?: AbortSignal): Promise<number> {
  const diffs = diffMaps(have, want);
  let changes = 0;
  for (const d of [...diffs].reverse()) {
    for (const key of d.removed) {
      signal?.throwIfAborted();
      unsaved.add(d.kind);
      await client.deleteMapEntry(MAP_FILES[d.kind], key, false);
      have[d.kind].delete(key);
      changes++;
    }
  }
  for (const d of diffs) {
    for (const [key, value] of d.changed) {
      signal?.throwIfAborted();
      unsaved.add(d.kind);
      await client.setMapEntry(MAP_FILES[d.kind], key, value, false);
      have[d.kind].set(key, value);
      changes++;
    }
    if (d.added.length > 0) {
      signal?.throwIfAborted();
      unsaved.add(d.kind);
      await client.addMapEntries(MAP_FILES[d.kind], d.added.map(([key, value]) => ({ key, value })), false);
      for (const [key, value] of d.added) have[d.kind].set(key, value);
      changes += d.added.length;
    }
  }
  return changes;
}

/**
 * Writes the files of the maps in `unsaved` from `entries` (the hub's record of what HAProxy runs, or
 * what it is to load), without a reload: a reload or a restart then loads them. Each written map
 * leaves `unsaved`.
 */
export async function saveMaps(client: DataPlaneClient, entries: RoutingMaps, unsaved: Set<MapKind>): Promise<void> {
  for (const kind of [...unsaved]) {
    await client.replaceMapFile(MAP_FILES[kind], mapFileText(entries[kind]), { skipReload: true });
    unsaved.delete(kind);
  }
}

/**
 * What can go live before a transaction creates new backends (in steps, see Steps): `want`, except path entries naming a
 * backend the edge does not have yet (such a key keeps its current value, or stays absent), and the
 * host entries whose paths are held back (a new host waits for its paths).
 */
export function* stagedMaps(have: RoutingMaps, want: RoutingMaps, exists: (backend: string) => boolean): Steps<RoutingMaps> {
  const out = emptyMaps();
  const heldScopes = new Set<string>();
  for (const kind of ['exact', 'prefix'] as const) {
    for (const [k, v] of want[kind]) {
      yield;
      if (exists(v)) out[kind].set(k, v);
      else {
        const cur = have[kind].get(k);
        if (cur !== undefined) out[kind].set(k, cur);
        else heldScopes.add(k.slice(0, k.indexOf('/')));
      }
    }
  }
  for (const kind of ['hosts', 'wildcards'] as const) {
    for (const [k, scope] of want[kind]) if (have[kind].has(k) || !heldScopes.has(scope)) out[kind].set(k, scope);
  }
  return out;
}

/** Map files changed at runtime are written at least this often while the edge is busy. */
const SAVE_AT_LEAST_EVERY_MS = 10_000;

/** The hub's work on one edge's routing maps: runtime changes, file writes, and reading them back in turn. */
export class MapSync {
  /** Since when runtime changes wait for their files to be written. */
  private unsavedSince: number | undefined;
  private cursor = 0;

  constructor(private readonly client: DataPlaneClient) {}

  /**
   * Brings the edge's maps to `want`. With `exists` (before a transaction), only what can go live with
   * the backends the edge has now (see stagedMaps); maps HAProxy has not loaded are written as files
   * instead, for the transaction's reload to load. Answers the entries changed at runtime.
   */
  async sync(maps: MapState, want: RoutingMaps, exists: ((backend: string) => boolean) | undefined, signal?: AbortSignal): Promise<number> {
    if (!maps.entries) {
      // Every file, for the transaction's reload to load (none is caused here).
      if (exists) await saveMaps(this.client, want, new Set(MAP_KINDS));
      return 0;
    }
    if (maps.synced === want) return 0;
    const changes = await syncMaps(this.client, maps.entries, exists ? await inTurns(stagedMaps(maps.entries, want, exists)) : want, maps.unsaved, signal);
    if (changes > 0) this.unsavedSince ??= Date.now();
    if (!exists) maps.synced = want;
    return changes;
  }

  /** Whether changes have waited too long for their files (the edge busy all along). */
  saveOverdue(): boolean {
    return this.unsavedSince !== undefined && Date.now() - this.unsavedSince >= SAVE_AT_LEAST_EVERY_MS;
  }

  /** Writes the files of the maps changed at runtime (before a reload, and when the edge is idle). */
  async save(maps: MapState): Promise<void> {
    if (!maps.entries || maps.unsaved.size === 0) return;
    await saveMaps(this.client, maps.entries, maps.unsaved);
    this.unsavedSince = undefined;
  }

  /** Reads one map in turn; answers its kind if it differs from the hub's record (the record takes what runs). */
  async verifyNext(maps: MapState): Promise<string | undefined> {
    const kind = MAP_KINDS[this.cursor++ % MAP_KINDS.length] ?? 'hosts';
    const entries = maps.entries;
    if (!entries) return undefined;
    const running = await readMap(this.client, kind);
    const known = entries[kind];
    if (running && running.size === known.size && [...running].every(([k, v]) => known.get(k) === v)) return undefined;
    if (running) entries[kind] = running;
    else maps.entries = undefined;
    maps.synced = undefined;
    return kind;
  }
}
