import assert from 'node:assert/strict';
import { test } from 'node:test';
import { byText } from './parts.js';
import { SortedKeys } from './sorted.js';

test('SortedKeys stays equal to sorting its keys, over random adds and removes', () => {
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const sorted = new SortedKeys(byText);
  const set = new Set<string>();
  for (let step = 0; step < 3000; step++) {
    const key = `k${rnd(400)}`;
    if (rnd(3) === 0) {
      sorted.delete(key);
      set.delete(key);
    } else {
      sorted.add(key);
      set.add(key);
    }
    if (step % 100 === 0) assert.deepEqual(sorted.keys, [...set].sort(byText));
  }
  assert.deepEqual(sorted.keys, [...set].sort(byText));
});
