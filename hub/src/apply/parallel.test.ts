import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inParallel } from './parallel.js';

describe('inParallel', () => {
  it('runs every item with at most `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    await inParallel([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setImmediate(r));
      done.push(n);
      inFlight--;
    });
    assert.deepEqual(done.sort(), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(most, 3);
  });

  it('throws the first failure once the calls in flight have settled, starting nothing after it', async () => {
    const started: number[] = [];
    let settled = 0;
    await assert.rejects(inParallel([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n);
      await new Promise((r) => setImmediate(r));
      settled++;
      if (n === 2) throw new Error('two');
    }), /two/);
    assert.equal(settled, started.length, 'nothing left in flight');
    assert.ok(started.length < 6, 'no item started after the failure');
  });
});
