import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataPlaneError } from '@ingressfed/dataplane';
import { startLocalDataPlane, type LocalDataPlane } from '@ingressfed/tests/harness';

// Version and transaction semantics of the Data Plane API v3 (shared BEHAVIOUR.md §3).

async function rawStatus(dp: LocalDataPlane, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${dp.url}/v3${path}`, {
    method,
    headers: { Authorization: `Basic ${Buffer.from(`${dp.username}:${dp.password}`).toString('base64')}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

describe('dataplane: versions and transactions', { timeout: 60_000 }, () => {
  let dp: LocalDataPlane;

  before(async () => {
    dp = await startLocalDataPlane({ maxOpenTransactions: 5 });
  });
  after(async () => {
    await dp?.stop();
  });

  it('refuses to start a transaction at a stale version with 409', async () => {
    const stale = await dp.client.getVersion();
    const w = await rawStatus(dp, 'POST', `/services/haproxy/configuration/backends?version=${stale}`, { name: 'be_moves_version' });
    assert.equal(w.status, 202);
    assert.equal(await dp.client.getVersion(), stale + 1);
    await assert.rejects(dp.client.startTransaction(stale), (err: unknown) => {
      assert.ok(err instanceof DataPlaneError);
      assert.equal(err.httpStatus, 409);
      assert.equal(err.code, 'INGRESSFED_ERR_DPAPI_VERSION_CONFLICT');
      assert.match(err.message, /version mismatch: version in configuration file is \d+, given version is \d+/);
      return true;
    });
  });

  it('refuses a direct write at a stale version with 409 and changes nothing', async () => {
    const v = await dp.client.getVersion();
    const r = await rawStatus(dp, 'POST', `/services/haproxy/configuration/backends?version=${v + 5}`, { name: 'be_x' });
    assert.equal(r.status, 409);
    assert.deepEqual(Object.keys(r.json).sort(), ['code', 'message']);
    assert.equal(r.json.code, 409);
    assert.equal(await dp.client.getVersion(), v);
  });

  it('answers 406 when committing a transaction made outdated by another commit', async () => {
    const v = await dp.client.getVersion();
    const t1 = await dp.client.startTransaction(v);
    const t2 = await dp.client.startTransaction(v);
    for (const [tx, name] of [[t1, 'be_one'], [t2, 'be_two']] as const) {
      await dp.client.unwrap('create', dp.client.api.POST('/services/haproxy/configuration/backends', {
        params: { query: { transaction_id: tx.id as string } }, body: { name },
      }));
    }
    const c1 = await dp.client.commitTransaction(t1.id as string);
    assert.equal(c1.version, v + 1);
    assert.ok(c1.reloadId);
    const listed = await dp.client.listTransactions();
    assert.equal(listed.find((t) => t.id === t2.id)?.status, 'outdated', 'the other transaction is marked outdated at once');
    await assert.rejects(dp.client.commitTransaction(t2.id as string), (err: unknown) => {
      assert.ok(err instanceof DataPlaneError);
      assert.equal(err.httpStatus, 406);
      assert.equal(err.code, 'INGRESSFED_ERR_DPAPI_TRANSACTION_OUTDATED');
      assert.match(err.message, /is outdated and cannot be committed/);
      return true;
    });
    await dp.client.deleteTransaction(t2.id as string);
    await assert.rejects(dp.client.unwrap('get', dp.client.api.GET('/services/haproxy/transactions/{id}', { params: { path: { id: t2.id as string } } })),
      (err: unknown) => err instanceof DataPlaneError && err.httpStatus === 404);
  });

  it('answers 409 at commit when a direct write moved the version after the transaction started', async () => {
    const v = await dp.client.getVersion();
    const tx = await dp.client.startTransaction(v);
    const w = await rawStatus(dp, 'POST', `/services/haproxy/configuration/backends?version=${v}`, { name: 'be_direct' });
    assert.equal(w.status, 202);
    assert.ok(w.headers.get('Reload-ID'));
    assert.equal(w.headers.get('Configuration-Version'), String(v + 1));
    const c = await rawStatus(dp, 'PUT', `/services/haproxy/transactions/${tx.id as string}`);
    assert.equal(c.status, 409);
    assert.match(String(c.json.message), /version mismatch, transaction version: \d+, configured version: \d+/);
    const after = await rawStatus(dp, 'GET', `/services/haproxy/transactions/${tx.id as string}`);
    assert.equal(after.json.status, 'outdated');
    await dp.client.deleteTransaction(tx.id as string);
  });

  it('keeps transaction writes invisible outside the transaction until commit', async () => {
    const v = await dp.client.getVersion();
    const tx = await dp.client.startTransaction(v);
    const w = await rawStatus(dp, 'POST', `/services/haproxy/configuration/backends?transaction_id=${tx.id as string}`, { name: 'be_hidden' });
    assert.equal(w.status, 202);
    assert.equal(w.headers.get('Reload-ID'), null, 'writes inside a transaction schedule no reload');
    assert.equal((await rawStatus(dp, 'GET', '/services/haproxy/configuration/backends/be_hidden')).status, 404);
    assert.equal((await rawStatus(dp, 'GET', `/services/haproxy/configuration/backends/be_hidden?transaction_id=${tx.id as string}`)).status, 200);
    await dp.client.deleteTransaction(tx.id as string);
    assert.equal(await dp.client.getVersion(), v);
  });

  it('refuses both version and transaction, and neither, with 400', async () => {
    const v = await dp.client.getVersion();
    const tx = await dp.client.startTransaction(v);
    const both = await rawStatus(dp, 'POST', `/services/haproxy/configuration/backends?version=${v}&transaction_id=${tx.id as string}`, { name: 'be_b' });
    assert.equal(both.status, 400);
    assert.match(String(both.json.message), /both version and transaction specified/);
    const neither = await rawStatus(dp, 'POST', '/services/haproxy/configuration/backends', { name: 'be_b' });
    assert.equal(neither.status, 400);
    assert.match(String(neither.json.message), /version or transaction not specified/);
    await dp.client.deleteTransaction(tx.id as string);
  });

  it('answers 429 past the open transaction limit, and deleting abandoned ones frees it', async () => {
    const v = await dp.client.getVersion();
    const open = await dp.client.listTransactions('in_progress');
    const started = [];
    for (let i = open.length; i < 5; i++) started.push(await dp.client.startTransaction(v));
    await assert.rejects(dp.client.startTransaction(v), (err: unknown) => err instanceof DataPlaneError && err.httpStatus === 429 &&
      err.code === 'INGRESSFED_ERR_DPAPI_TOO_MANY_TRANSACTIONS');
    for (const t of started) await dp.client.deleteTransaction(t.id as string);
    const t = await dp.client.startTransaction(v);
    await dp.client.deleteTransaction(t.id as string);
  });

  it('re-plans and retries when the version moves between start and commit', async () => {
    let runs = 0;
    const outcome = await dp.client.transaction(async (tx) => {
      runs++;
      await dp.client.unwrap('create', dp.client.api.POST('/services/haproxy/configuration/backends', {
        params: { query: tx.query }, body: { name: `be_retry_${tx.attempt}` },
      }));
      if (tx.attempt === 1) {
        // Another writer commits in between: this attempt's commit must fail and be retried.
        const v = await dp.client.getVersion();
        await rawStatus(dp, 'POST', `/services/haproxy/configuration/backends?version=${v}`, { name: 'be_other_writer' });
      }
    });
    assert.equal(runs, 2);
    assert.equal(outcome.attempts, 2);
    const names = (await dp.client.unwrap('list', dp.client.api.GET('/services/haproxy/configuration/backends', {}))).data.map((b) => b.name);
    assert.ok(names.includes('be_retry_2'));
    assert.ok(!names.includes('be_retry_1'), 'the failed attempt left nothing behind');
    assert.deepEqual(await dp.client.listTransactions('in_progress'), [], 'no transaction is left open');
  });

  it('reports reloads with ids and statuses, and commits with force_reload synchronously', async () => {
    const v = await dp.client.getVersion();
    const tx = await dp.client.startTransaction(v);
    const c = await rawStatus(dp, 'PUT', `/services/haproxy/transactions/${tx.id as string}?force_reload=true`);
    assert.equal(c.status, 200);
    assert.equal(c.json.status, 'success');
    assert.equal(c.json._version, v, 'the commit answer carries the base version');
    assert.equal(c.headers.get('Configuration-Version'), String(v + 1));
    const reloads = (await dp.client.unwrap('reloads', dp.client.api.GET('/services/haproxy/reloads', {}))).data;
    assert.ok(reloads.length > 0);
    assert.ok(reloads.every((r) => /^\d{4}-\d{2}-\d{2}-\d+$/.test(r.id ?? '')));
    assert.equal((await rawStatus(dp, 'GET', '/services/haproxy/reloads/1999-01-01-999999')).status, 404);
  });
});
