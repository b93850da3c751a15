import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isolateRefused } from './isolate.js';

/** A checker that refuses any state including one of `bad`, counting its calls. */
function checker(bad: string[]): { passes: (ex: ReadonlySet<string>) => Promise<boolean>; calls: () => number } {
  let n = 0;
  return { passes: async (ex) => (n++, bad.every((b) => ex.has(b))), calls: () => n };
}

describe('isolateRefused: the changes HAProxy refuses, by halving', () => {
  it('finds one culprit among many in about log2(n) checks', async () => {
    const changes = Array.from({ length: 64 }, (_, i) => `k${i}`);
    for (const bad of ['k0', 'k31', 'k63']) {
      const c = checker([bad]);
      assert.deepEqual(await isolateRefused(changes, c.passes), [bad]);
      assert.ok(c.calls() <= 10, `${c.calls()} checks for 64 changes`);
    }
  });

  it('finds several culprits', async () => {
    const changes = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const found = await isolateRefused(changes, checker(['k3', 'k17']).passes);
    assert.deepEqual([...found].sort(), ['k17', 'k3']);
  });

  it('blames no change when the last good state itself is refused', async () => {
    const c = { passes: async () => false };
    assert.deepEqual(await isolateRefused(['a', 'b'], c.passes), []);
  });

  it('finds the single change when there is only one', async () => {
    assert.deepEqual(await isolateRefused(['only'], checker(['only']).passes), ['only']);
  });
});
