/**
 * A map whose snapshots cost nothing to take. Each write first saves the value it replaces into the
 * snapshots taken before it that are still referenced, so a snapshot answers as the map was when it
 * was taken, at a cost proportional to the writes since, not to the size of the map. (The hub keeps
 * the records each model was merged from: copying thirty thousand records per model would make
 * every endpoint change cost as much as the fleet.)
 */
export class SnapshotMap<V> implements ReadonlyMap<string, V> {
  private readonly live = new Map<string, V>();
  private snapshots: Array<WeakRef<MapSnapshot<V>>> = [];
  private latest: MapSnapshot<V> | undefined;

  get size(): number {
    return this.live.size;
  }

  get(key: string): V | undefined {
    return this.live.get(key);
  }

  has(key: string): boolean {
    return this.live.has(key);
  }

  set(key: string, value: V): this {
    this.save(key);
    this.live.set(key, value);
    return this;
  }

  delete(key: string): boolean {
    if (!this.live.has(key)) return false;
    this.save(key);
    return this.live.delete(key);
  }

  /** The map as it is now, unchanged by later writes (the same object until the next write). */
  snapshot(): MapSnapshot<V> {
    if (this.latest) return this.latest;
    const s = new MapSnapshot(this.live);
    this.snapshots.push(new WeakRef(s));
    this.latest = s;
    return s;
  }

  keys(): MapIterator<string> {
    return this.live.keys();
  }

  values(): MapIterator<V> {
    return this.live.values();
  }

  entries(): MapIterator<[string, V]> {
    return this.live.entries();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.live.entries();
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [k, v] of this.live) fn(v, k, this);
  }

  /** Before `key` changes: the snapshots still referenced keep its value (snapshots collected are dropped). */
  private save(key: string): void {
    this.latest = undefined;
    let kept = 0;
    for (const ref of this.snapshots) {
      const s = ref.deref();
      if (!s) continue;
      this.snapshots[kept++] = ref;
      s.keep(key, this.live.has(key), this.live.get(key));
    }
    this.snapshots.length = kept;
  }
}

/** A SnapshotMap as it was when the snapshot was taken. */
export class MapSnapshot<V> implements ReadonlyMap<string, V> {
  /** Keys written since, with their value then (`absent` when they did not exist). */
  private readonly before = new Map<string, { value: V } | typeof ABSENT>();

  constructor(private readonly live: ReadonlyMap<string, V>) {}

  /** @internal Called by the map before it changes `key`. */
  keep(key: string, present: boolean, value: V | undefined): void {
    if (this.before.has(key)) return;
    this.before.set(key, present ? { value: value as V } : ABSENT);
  }

  get size(): number {
    let n = this.live.size;
    for (const [k, was] of this.before) n += (was === ABSENT ? 0 : 1) - (this.live.has(k) ? 1 : 0);
    return n;
  }

  get(key: string): V | undefined {
    const was = this.before.get(key);
    if (was === undefined) return this.live.get(key);
    return was === ABSENT ? undefined : was.value;
  }

  has(key: string): boolean {
    const was = this.before.get(key);
    return was === undefined ? this.live.has(key) : was !== ABSENT;
  }

  *entries(): MapIterator<[string, V]> {
    for (const [k, v] of this.live) {
      const was = this.before.get(k);
      if (was === undefined) yield [k, v];
      else if (was !== ABSENT) yield [k, was.value];
    }
    for (const [k, was] of this.before) if (was !== ABSENT && !this.live.has(k)) yield [k, was.value];
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}

const ABSENT = Symbol('absent');
