import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, startHubProcess, startProber, waitFor, type Federation, type HubProcess, type Prober } from '../harness/index.js';
import { startRecordingProxy, type RecordingProxy } from '../harness/recording-proxy.js';
import { ingress, ingressClass } from '../kube/manifests.js';
import { create, serviceWithEndpoint, whoAnswers } from '../semantics/fixtures.js';

// Fault row F12 of the matrix: the leading hub (a process of its own) is killed with SIGKILL between
// creating a Data Plane API transaction and committing it: its commit request is held by a proxy, so
// the process is provably inside the transaction when it dies. Nothing of the change reaches the
// edge's configuration; the transaction is left open; the next leader (a new hub process) deletes it,
// re-plans from the edge as it is and applies the change once, and an existing route is served
// throughout.

const TOKEN = 'faults-hub-crash-token-0123456789';
const LEASE_MS = 1000;
/** The commit of a transaction (`PUT /v3/services/haproxy/transactions/{id}`); not a write inside one (`?transaction_id=`). */
const COMMIT = /^PUT \/v3\/services\/haproxy\/transactions\/([0-9a-f-]{36})(?:\?|$)/;
/** A commit in the text a client sent (a request line may follow a body on the same line). */
const SENT_COMMIT = /PUT \/v3\/services\/haproxy\/transactions\/([0-9a-f-]{36})(?:\?\S*)? HTTP\/1\.1\r\n/g;
const RECLAIMED = /^ingressfed_transactions_reclaimed_total\{edge="edge-a"\} (\d+)$/m;
/** From the kill to the change served by the next leader, which is started after the kill: the dead leader's lease (1 s) runs out, a hub process starts, prepares the edge and applies. */
const RECOVERY_BOUND_MS = 20_000;
const MAPS = ['ingressfed_hosts.map', 'ingressfed_wildcards.map', 'ingressfed_exact.map', 'ingressfed_prefix.map'];

describe('faults: hub crash inside a transaction', { timeout: 180_000 }, () => {
  let fed: Federation;
  /** The leader that is killed, and the proxy (holding its commit) between it and the Data Plane API. */
  let dead: HubProcess | undefined;
  let deadProxy: RecordingProxy | undefined;
  /** The next leader, and a proxy recording what it sends. */
  let next: HubProcess | undefined;
  let nextProxy: RecordingProxy | undefined;
  let prober: Prober | undefined;
  const edge = (): NonNullable<Federation['edges'][number]> => fed.edges[0] as NonNullable<Federation['edges'][number]>;
  const client = (): NonNullable<Federation['edges'][number]>['dp']['client'] => edge().dp.client;
  const rawConfig = async (): Promise<string> => {
    const c = client();
    return String((await c.unwrap('raw', c.api.GET('/services/haproxy/configuration/raw', { parseAs: 'text' }))).data);
  };
  const backendNames = async (): Promise<string[]> => {
    const c = client();
    return (await c.unwrap('backends', c.api.GET('/services/haproxy/configuration/backends'))).data.map((b) => b.name ?? '');
  };
  const hubApi = async <T>(hub: HubProcess, path: string, as: 'json' | 'text' = 'json'): Promise<T> => {
    const r = await httpRequest(`${hub.apiUrl}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, `${path}: ${r.body}`);
    return (as === 'json' ? r.json<T>() : r.body) as T;
  };
  const firstEdge = async (hub: HubProcess): Promise<{ applies: number; lastError: string | null; pendingChanges?: number }> =>
    (await hubApi<{ items: Array<{ applies: number; lastError: string | null; pendingChanges?: number }> }>(hub, '/api/v1/edges')).items[0] ?? { applies: 0, lastError: 'no edge' };

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }], redis: true, hub: { leaseTtlMs: LEASE_MS },
      // No spare backends: a new Service takes a transaction (a spare would serve it without one).
      edges: [{ name: 'edge-a', zone: 'zone-a', spareBackends: 0 }],
    });
    await create(fed, 'alpha', [ingressClass(), ...serviceWithEndpoint('web', '127.0.177.1'), ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }])]);
    await fed.echo.settled();
    await waitFor('web served', async () => (await whoAnswers(edge().url, 'web.example.test', '/')) === 'web', { timeoutMs: 20_000 });
    await fed.hub.idle();
    // The leader becomes a hub process of its own, which can be killed.
    await fed.killHub();
    deadProxy = await startRecordingProxy(edge().dp.url);
    dead = await startHubProcess(fed, { leaseTtlMs: LEASE_MS, token: TOKEN, edgeUrls: [deadProxy.url] });
    await dead.process.waitForLine(/leader lease acquired/, 10_000);
    const leader = dead;
    await waitFor('the hub process applied to the edge', async () => {
      const e = await firstEdge(leader);
      return e.applies > 0 && e.lastError === null && !e.pendingChanges;
    }, { timeoutMs: 15_000 });
  });

  after(async () => {
    await prober?.stop();
    await dead?.stop();
    await next?.stop();
    await deadProxy?.stop();
    await nextProxy?.stop();
    await fed?.stop();
  });

  it('F12: a hub killed between transaction create and commit leaves no partial config; the next leader deletes its transaction and applies the change once; an existing route is served throughout', async () => {
    const killed = dead as HubProcess;
    const holding = deadProxy as RecordingProxy;
    const c = client();
    const versionBefore = await c.getVersion();
    const configBefore = await rawConfig();
    assert.deepEqual(await c.listTransactions('in_progress'), [], 'no transaction open before the change');
    assert.equal((await backendNames()).filter((b) => b.includes('_fresh_')).length, 0);
    prober = startProber(`${edge().url}/`, 'web.example.test');

    // A change that takes a transaction (a new Service, no spare): its commit is held on the way.
    holding.hold((line) => COMMIT.test(line));
    await create(fed, 'alpha', [...serviceWithEndpoint('fresh', '127.0.177.2'), ingress('fresh', [{ host: 'fresh.example.test', paths: [{ path: '/', service: 'fresh' }] }])]);
    await fed.echo.settled();
    await waitFor('the leader\'s commit request', async () => holding.held.length > 0, { timeoutMs: 20_000, intervalMs: 5 });
    const txId = COMMIT.exec(holding.held[0] as string)?.[1] as string;
    // The hub process is inside its transaction: created, written to, its commit sent and not answered.
    killed.process.child.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor('the hub process gone', async () => !killed.process.running, { timeoutMs: 5000, intervalMs: 5 });
    assert.equal(killed.process.child.signalCode, 'SIGKILL');
    assert.deepEqual(holding.held, [holding.held[0]], 'one request held: the commit');
    const sentByDead = holding.sent().join('');
    assert.ok(sentByDead.includes(`?transaction_id=${txId}`), 'the dead hub wrote inside the transaction before committing');

    // No partial config: the edge is at the version and configuration it had, the transaction is
    // left open (not committed), and the new route is not served.
    assert.equal(await c.getVersion(), versionBefore, 'the configuration version did not move');
    assert.equal(await rawConfig(), configBefore, 'the configuration is as it was');
    assert.deepEqual((await c.listTransactions('in_progress')).map((t) => t.id), [txId], 'the dead hub\'s transaction is left open');
    assert.notEqual(await whoAnswers(edge().url, 'fresh.example.test', '/'), 'fresh', 'the new route is not served');
    assert.equal(await whoAnswers(edge().url, 'web.example.test', '/'), 'web');

    // The next leader: a new hub process, started after the kill. It takes the lease once the dead
    // one's has run out, deletes the open transaction, re-plans and applies the change.
    nextProxy = await startRecordingProxy(edge().dp.url);
    const startedAt = Date.now();
    next = await startHubProcess(fed, { leaseTtlMs: LEASE_MS, token: TOKEN, edgeUrls: [nextProxy.url] });
    const leader = next;
    const recorder = nextProxy;
    await waitFor('the change served by the next leader', async () => (await whoAnswers(edge().url, 'fresh.example.test', '/')) === 'fresh', { timeoutMs: RECOVERY_BOUND_MS, intervalMs: 10 });
    const servedAt = Date.now();
    await leader.process.waitForLine(/leader lease acquired/, 1000);
    const liveMs = servedAt - killedAt;
    console.log(`F12: killed inside transaction ${txId}; the change served ${liveMs} ms after the kill (${servedAt - startedAt} ms after the next hub process was started; bound ${RECOVERY_BOUND_MS} ms)`);
    assert.ok(liveMs < RECOVERY_BOUND_MS);

    // The dead hub's transaction was deleted by the next leader, which said so and counted it.
    assert.ok(recorder.sent().join('').includes(`DELETE /v3/services/haproxy/transactions/${txId} `), 'the next leader deleted the dead hub\'s transaction');
    assert.deepEqual((await c.listTransactions()).filter((t) => t.id === txId), [], 'the transaction is gone');
    assert.deepEqual(await c.listTransactions('in_progress'), [], 'no transaction is left open');
    const said = await leader.process.waitForLine(/deleted transactions left open by an earlier writer/, 1000);
    assert.match(said, /"edge":"edge-a"/);
    assert.match(said, /"count":1[,}]/);
    assert.equal(Number(RECLAIMED.exec(await hubApi<string>(leader, '/metrics', 'text'))?.[1]), 1, 'ingressfed_transactions_reclaimed_total{edge="edge-a"} is 1');

    // The change is on the edge once: one backend for the Service, one route to it, one commit.
    await waitFor('the next leader idle', async () => {
      const e = await firstEdge(leader);
      return e.lastError === null && !e.pendingChanges;
    }, { timeoutMs: 10_000 });
    const fresh = (await backendNames()).filter((b) => b.includes('_fresh_'));
    assert.equal(fresh.length, 1, `backends: ${fresh.join(', ')}`);
    const config = await rawConfig();
    assert.equal(config.split('\n').filter((l) => l.trim() === `backend ${fresh[0]}`).length, 1, 'one backend section for the Service');
    // The routing map entries of each host, as `map key → value`; a running map can hold a key twice.
    const entries = async (host: string): Promise<string[]> => {
      const out: string[] = [];
      for (const m of MAPS) for (const e of await c.mapEntries(m)) if (e.key?.startsWith(host)) out.push(`${m} ${e.key.replace(host, 'H')} → ${String(e.value).replace(host, 'H')}`);
      return out.sort();
    };
    const webBackend = (await backendNames()).find((b) => b.includes('_web_')) as string;
    const freshEntries = await entries('fresh.example.test');
    assert.deepEqual(freshEntries.map((e) => e.replace(fresh[0] as string, 'B')), (await entries('web.example.test')).map((e) => e.replace(webBackend, 'B')),
      'the new route has the entries the existing one has, each once');
    assert.equal(new Set(freshEntries).size, freshEntries.length);
    console.log(`F12: the change on the edge: ${fresh[0]}; ${freshEntries.join('; ')}`);
    const commits = recorder.sent().flatMap((text) => [...text.matchAll(SENT_COMMIT)].map((m) => m[1] as string));
    assert.equal(commits.length, 1, `the next leader's commits: ${commits.join(', ')}`);
    assert.notEqual(commits[0], txId, 'it committed a transaction of its own, not the dead hub\'s');
    assert.equal(await c.getVersion(), versionBefore + 1, 'one commit since the one before the crash');

    const probes = await (prober as Prober).stop();
    prober = undefined;
    console.log(`F12: ${probes.requests} probes to web.example.test through the crash and the takeover, ${probes.failures} failed`);
    assert.equal(probes.failures, 0, `${probes.failures} of ${probes.requests} probes failed`);
    assert.ok(probes.requests > 50, `${probes.requests} probes`);
  });
});
