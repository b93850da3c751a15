/**
 * Keys kept in order as they come and go: adding or removing one costs a binary search and a
 * splice, where sorting every key again costs a comparison per key and more, at each change.
 */
export class SortedKeys {
  readonly keys: string[] = [];

  constructor(private readonly order: (a: string, b: string) => number) {}

  /** Adds a key (once). */
  add(key: string): void {
    const i = this.position(key);
    if (this.keys[i] !== key) this.keys.splice(i, 0, key);
  }

  /** Removes a key, if present. */
  delete(key: string): void {
    const i = this.position(key);
    if (this.keys[i] === key) this.keys.splice(i, 1);
  }

  /** The first index whose key does not come before `key`. */
  private position(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order(this.keys[mid] as string, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
