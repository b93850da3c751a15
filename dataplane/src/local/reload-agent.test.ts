import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReloadAgent } from './reload-agent.js';

function agent(results: boolean[], delayMs = 30) {
  const events: string[] = [];
  let runs = 0;
  const a = new ReloadAgent({
    delayMs,
    run: async () => {
      const ok = results[runs++] ?? true;
      return { ok, output: ok ? '' : '[ALERT] bind failed' };
    },
    snapshot: () => runs,
    onSucceeded: (s) => events.push(`ok:${String(s)}`),
    onFailed: (s, out) => events.push(`failed:${String(s)}:${out}`),
    now: () => new Date('2026-11-22T10:00:00Z'),
  });
  return { a, events, runs: () => runs };
}

describe('reload agent: coalescing and outcomes', () => {
  it('gives every change before the pending reload starts the same id, and reloads once', async () => {
    const { a, runs } = agent([true]);
    const id1 = a.schedule();
    const id2 = a.schedule();
    assert.equal(id1, id2);
    assert.equal(id1, '2026-11-22-1');
    await a.idle();
    assert.equal(runs(), 1);
    assert.equal(a.get(id1)?.status, 'succeeded');
  });

  it('starts a new reload for changes after the previous one began, spaced by the delay', async () => {
    const { a, runs } = agent([true, true], 80);
    a.schedule();
    await a.idle();
    const started = Date.now();
    const id = a.schedule();
    assert.equal(id, '2026-11-22-2');
    await a.idle();
    assert.ok(Date.now() - started >= 40, 'the second reload waited for the delay');
    assert.equal(runs(), 2);
  });

  it('records a failed reload with HAProxy output and reports it', async () => {
    const { a, events } = agent([false]);
    const rec = await a.forceNow();
    assert.equal(rec.status, 'failed');
    assert.equal(rec.response, '[ALERT] bind failed');
    assert.deepEqual(events, ['failed:0:[ALERT] bind failed']);
  });

  it('reports ids it issued but no longer keeps as succeeded, and unknown ids as missing', async () => {
    const { a } = agent([true]);
    await a.forceNow();
    assert.equal(a.get('2026-11-21-1')?.status, 'succeeded');
    assert.equal(a.get('2026-11-22-99'), undefined);
    assert.equal(a.get('force'), undefined);
  });
});
