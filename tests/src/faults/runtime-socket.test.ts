import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, startProber, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F24 of the matrix: the edge's runtime API is lost (HAProxy's stats socket removed, so the
// Data Plane API cannot reach it). Changes that would go live at runtime (endpoints, routes) go by
// transaction instead, structural ones still go, nothing is lost, and other routes are served.

describe('faults: runtime socket lost', { timeout: 120_000 }, () => {
  let fed: Federation;
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  const answeredBy = async (host: string): Promise<string | undefined> => {
    const r = await httpRequest(`${edgeUrl()}/`, { host });
    return r.status === 200 ? r.json<EchoReply>().endpoint : undefined;
  };

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }] });
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: '127.0.210.1' }]),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }]),
      service('moving'), endpointSlice('moving', [{ address: '127.0.210.10' }]),
      ingress('moving', [{ host: 'moving.example.test', paths: [{ path: '/', service: 'moving' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor('both served', async () => (await answeredBy('web.example.test')) !== undefined && (await answeredBy('moving.example.test')) !== undefined, { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  it('F24: without the runtime API, an endpoint change and a new route go live by transaction; other routes are served throughout; once the socket is back, changes go live at runtime again', async () => {
    const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
    const socket = fed.edges[0]?.dp.statsSocket as string;
    rmSync(socket);
    const transactions = fed.hub.edgeStatus()[0]?.transactions ?? 0;
    // An endpoint change (at runtime, normally): alone, so that nothing structural carries it anyway.
    await fed.kubectl('alpha', ['replace', '-f', '-'], endpointSlice('moving', [{ address: '127.0.210.11' }]));
    await fed.echo.settled();
    await waitFor('the moved endpoint serving', async () => (await answeredBy('moving.example.test'))?.startsWith('127.0.210.11:') === true, { timeoutMs: 20_000 });
    // The edge serves the change once HAProxy has reloaded; the hub counts the apply once it has seen the reload end.
    await waitFor('the hub counted its transaction', () => (fed.hub.edgeStatus()[0]?.transactions ?? 0) > transactions, { timeoutMs: 10_000 });
    await waitFor('the hub said why', () => fed.logs.some((l) => /runtime API of the edge does not answer/.test(l)), { timeoutMs: 10_000 });
    // A new route with a Service of its own (a map entry at runtime, normally, and a backend).
    const beforeRoute = fed.hub.edgeStatus()[0]?.transactions ?? 0;
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[service('added'), endpointSlice('added', [{ address: '127.0.210.20' }]),
      ingress('added', [{ host: 'added.example.test', paths: [{ path: '/', service: 'added' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor('the new route served', async () => (await answeredBy('added.example.test'))?.startsWith('127.0.210.20:') === true, { timeoutMs: 20_000 });
    await waitFor('the hub counted its transaction', () => (fed.hub.edgeStatus()[0]?.transactions ?? 0) > beforeRoute, { timeoutMs: 10_000 });
    const { requests, failures } = await prober.stop();
    assert.equal(failures, 0, `${failures} of ${requests} probes failed`);
    // While it stays lost (a reload does not bring the socket file back), every change keeps going live.
    assert.equal(existsSync(socket), false);
    const before = fed.hub.edgeStatus()[0]?.transactions ?? 0;
    await fed.kubectl('alpha', ['replace', '-f', '-'], endpointSlice('moving', [{ address: '127.0.210.12' }]));
    await fed.echo.settled();
    await waitFor('the endpoint moved again', async () => (await answeredBy('moving.example.test'))?.startsWith('127.0.210.12:') === true, { timeoutMs: 20_000 });
    await waitFor('the hub counted its transaction', () => (fed.hub.edgeStatus()[0]?.transactions ?? 0) > before, { timeoutMs: 10_000 });
    assert.equal(fed.logs.filter((l) => /runtime API of the edge does not answer/.test(l)).length, 1, 'said once, not at every apply');

    // The socket back: HAProxy started again (its master killed; the Data Plane API starts it from
    // haproxy.cfg) creates it anew. Endpoint changes go live at runtime again, without a transaction.
    const dp = fed.edges[0]?.dp;
    assert.ok(dp);
    process.kill((await dp.procState()).master.pid, 'SIGKILL');
    await waitFor('the stats socket back', () => existsSync(socket), { timeoutMs: 10_000, intervalMs: 20 });
    await waitFor('moving answering again', async () => (await answeredBy('moving.example.test'))?.startsWith('127.0.210.12:') === true, { timeoutMs: 20_000 });
    await fed.hub.idle();
    const atReturn = fed.hub.edgeStatus()[0]?.transactions ?? 0;
    await fed.kubectl('alpha', ['replace', '-f', '-'], endpointSlice('moving', [{ address: '127.0.210.13' }]));
    await fed.echo.settled();
    await waitFor('the endpoint moved at runtime', async () => (await answeredBy('moving.example.test'))?.startsWith('127.0.210.13:') === true, { timeoutMs: 20_000 });
    await waitFor('the hub said the runtime API is back', () => fed.logs.some((l) => /runtime API of the edge answers again/.test(l)), { timeoutMs: 10_000 });
    await fed.hub.idle();
    assert.equal(fed.hub.edgeStatus()[0]?.transactions ?? 0, atReturn, 'no transaction: the change went live at runtime');
  });
});
