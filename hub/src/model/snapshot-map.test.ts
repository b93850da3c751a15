import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SnapshotMap, type MapSnapshot } from './snapshot-map.js';

test('every snapshot answers as the map was when it was taken, over random writes', () => {
  let seed = 11;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const map = new SnapshotMap<number>();
  const taken: Array<{ snap: MapSnapshot<number>; copy: Map<string, number> }> = [];
  for (let step = 0; step < 4000; step++) {
    const key = `k${rnd(60)}`;
    const op = rnd(10);
    if (op < 5) map.set(key, step);
    else if (op < 8) map.delete(key);
    else taken.push({ snap: map.snapshot(), copy: new Map(map) });
    if (taken.length > 12) taken.splice(rnd(taken.length), 1);
  }
  assert.ok(taken.length > 0);
  for (const { snap, copy } of taken) {
    assert.deepEqual(new Map(snap), copy);
    assert.equal(snap.size, copy.size);
    for (let i = 0; i < 60; i++) {
      assert.equal(snap.get(`k${i}`), copy.get(`k${i}`));
      assert.equal(snap.has(`k${i}`), copy.has(`k${i}`));
    }
  }
});

test('a snapshot taken with no write since the last one is the same object', () => {
  const map = new SnapshotMap<string>();
  map.set('a', '1');
  const s = map.snapshot();
  assert.equal(map.snapshot(), s);
  map.set('a', '2');
  assert.notEqual(map.snapshot(), s);
  assert.equal(s.get('a'), '1');
  assert.equal(map.snapshot().get('a'), '2');
});
