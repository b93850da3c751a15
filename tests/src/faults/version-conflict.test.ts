import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, startProber, waitFor, type EchoReply, type Federation, type HttpAnswer } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F19 of the matrix: a second writer bumps the Data Plane API's configuration version
// while the hub's transaction is open. The hub's commit is held on the wire (a proxy between the hub
// and the API) while an operator, talking to the API directly, commits a backend of their own. When
// the hub's commit arrives it is refused (the transaction is outdated); the hub reads the version
// again, builds its change again and commits it. It never writes with `skip_version` (only its
// validation of a configuration, which writes nothing, uses it), and the operator's backend stays.

const CREATE = /^POST \/v3\/services\/haproxy\/transactions\?version=(\d+)$/;
const COMMIT = /^PUT \/v3\/services\/haproxy\/transactions\/[^/?]+(\?|$)/;

describe('faults: a second writer moves the configuration version', { timeout: 120_000 }, () => {
  let fed: Federation;
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  /** The edge's Data Plane API, directly (not through the hub's proxy), as an operator. */
  const api = (path: string, opts: { method?: string; body?: string } = {}): Promise<HttpAnswer> => {
    const e = fed.edges[0];
    if (!e) throw new Error('no edge');
    return httpRequest(`${e.dp.url}/v3${path}`, {
      ...opts, headers: { authorization: `Basic ${Buffer.from(`${e.dp.username}:${e.dp.password}`).toString('base64')}`, 'content-type': 'application/json' },
    });
  };
  const version = async (): Promise<number> => Number((await api('/services/haproxy/configuration/version')).body.trim());
  const served = async (host: string): Promise<boolean> => {
    const r = await httpRequest(`${edgeUrl()}/`, { host });
    return r.status === 200 && r.json<EchoReply>().host === host;
  };

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }], edges: [{ name: 'edge-a', zone: 'zone-a', proxied: true, spareBackends: 0 }] });
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: '127.0.219.1' }]),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor('web served', () => served('web.example.test'), { timeoutMs: 20_000 });
    await fed.hub.idle();
  });

  after(async () => {
    await fed?.stop();
  });

  it('F19: the hub\'s commit refused because a second writer moved the version: it re-reads, re-plans and commits; never a blind skip_version; the other writer\'s change stays', async () => {
    const proxy = fed.edges[0]?.proxy;
    assert.ok(proxy);
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    let probed: { requests: number; failures: number } | undefined;
    try {
      const mark = proxy.writes.length;
      proxy.hold((line) => COMMIT.test(line));
      // A change that needs a transaction: a new backend and its route.
      await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[service('second'), endpointSlice('second', [{ address: '127.0.219.2' }]),
        ingress('second', [{ host: 'second.example.test', paths: [{ path: '/', service: 'second' }] }])].join('\n---\n')}\n`);
      await fed.echo.settled();
      const commitLine = await waitFor('the hub\'s commit held', () => proxy.writes.slice(mark).find((l) => COMMIT.test(l)), { timeoutMs: 20_000, intervalMs: 20 });
      const started = proxy.writes.slice(mark).map((l) => CREATE.exec(l)?.[1]).filter((v) => v !== undefined).map(Number);
      assert.equal(started.length, 1, 'one transaction started');
      const at = started[0] as number;
      assert.equal(await version(), at, 'nothing committed since the hub started its transaction');

      // The second writer: an operator's backend, committed directly at the current version.
      const created = await api(`/services/haproxy/configuration/backends?version=${at}`, { method: 'POST', body: JSON.stringify({ name: 'operator_side', mode: 'http' }) });
      assert.equal(created.status, 202, `the operator's write: ${created.status} ${created.body}`);
      assert.equal(await version(), at + 1, 'the version moved');

      // The hub's commit goes on, finds its transaction outdated, and the hub starts again.
      proxy.hold(false);
      await waitFor('second served', () => served('second.example.test'), { timeoutMs: 20_000 });
      await fed.hub.idle();
      const after = proxy.writes.slice(mark);
      const restarts = after.map((l) => CREATE.exec(l)?.[1]).filter((v) => v !== undefined).map(Number);
      assert.ok(restarts.length >= 2 && (restarts[1] as number) > at, `a transaction started again at the new version: ${restarts.join(', ')}`);
      assert.ok(after.filter((l) => COMMIT.test(l)).length >= 2, 'committed again');
      const blind = proxy.writes.filter((l) => /skip_version=true/.test(l) && !/only_validate=true/.test(l));
      assert.deepEqual(blind, [], 'no write with skip_version');
      assert.equal((await api('/services/haproxy/configuration/backends/operator_side')).status, 200, 'the operator\'s backend stays');
      assert.ok(await served('web.example.test'));
      probed = await prober.stop();
      console.log(`F19: the hub's transaction started at version ${at}; its commit (${commitLine}) held while the operator committed version ${at + 1}; ` +
        `transactions started ${restarts.join(', ')}; probes ${probed.failures}/${probed.requests} failed`);
    } finally {
      proxy.hold(false);
      if (!probed) await prober.stop();
    }
    assert.equal(probed.failures, 0, `${probed.failures} of ${probed.requests} probes failed`);
  });
});
