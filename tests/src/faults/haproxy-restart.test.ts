import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { showProc, type ProcState } from '@ingressfed/dataplane/local';
import { httpRequest, startFederation, startProber, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F23 of the matrix: HAProxy's worker killed, and HAProxy as a whole killed. In master-worker
// mode HAProxy 2.6 does not fork a new worker when one dies: the master stops every process and exits
// (`exit-on-failure`, its default), and a worker exits when its master dies. Either way HAProxy is
// started again by its supervisor (systemd's Restart=always for a packaged HAProxy; here the local
// Data Plane API server), from the configuration on disk: the last committed one. What was set only
// at runtime since (a slot's address, a routing map entry) is not in it, and the hub's reconcile loop
// (the read-back between applies, run at every resync) finds the edge differing and sets it again.

/** The outage other routes see: HAProxy killed, then started again; well above the ~0.3 s measured. */
const MAX_DOWN_MS = 3000;
/** The bound on the repair: a read-back at each resync (2 s in the harness), slots at once, one routing map at a time (4). */
const MAX_REPAIR_MS = 20_000;

describe('faults: HAProxy worker crash or restart', { timeout: 150_000 }, () => {
  let fed: Federation;
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  const dp = (): Federation['edges'][number]['dp'] => fed.edges[0]?.dp as Federation['edges'][number]['dp'];
  const answeredBy = async (host: string): Promise<string | undefined> => {
    const r = await httpRequest(`${edgeUrl()}/`, { host, timeoutMs: 2000 }).catch(() => undefined);
    return r?.status === 200 ? r.json<EchoReply>().endpoint : undefined;
  };
  const configOnDisk = (): string => readFileSync(join(dp().workdir, 'haproxy.cfg'), 'utf8');
  const mapFile = async (name: string): Promise<string> => {
    const r = await dp().client.api.GET('/services/haproxy/storage/maps/{name}', { params: { path: { name } }, parseAs: 'text' });
    return String(r.data);
  };
  /** Until the hub has nothing left to do on the edge. */
  const settled = async (): Promise<void> => {
    await waitFor('the edge settled', async () => {
      await fed.hub.idle();
      return fed.hub.edgeStatus()[0]?.transactionDeferred === false;
    }, { timeoutMs: 15_000 });
  };

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }] });
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: '127.0.230.1' }]),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }]),
      service('moving'), endpointSlice('moving', [{ address: '127.0.230.10' }]),
      ingress('moving', [{ host: 'moving.example.test', paths: [{ path: '/', service: 'moving' }] }])].join('\n---\n')}\n`);
    await fed.echo.settled();
    await waitFor('both served', async () => (await answeredBy('web.example.test')) !== undefined && (await answeredBy('moving.example.test')) !== undefined, { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  const cases: Array<{ what: string; address: string; host: string; kill: (st: ProcState) => void }> = [
    { what: 'its worker killed (SIGKILL)', address: '127.0.230.11', host: 'extra-1.example.test', kill: (st) => process.kill(st.workers[0]?.pid as number, 'SIGKILL') },
    { what: 'its master killed (SIGKILL)', address: '127.0.230.12', host: 'extra-2.example.test', kill: (st) => process.kill(st.master.pid, 'SIGKILL') },
  ];

  for (const c of cases) {
    it(`F23: HAProxy with ${c.what} runs again from the last committed configuration on disk; the hub re-applies what was set only at runtime (a slot's address, a map entry) without a reload; other routes are down only while HAProxy is`, async () => {
      await settled();
      const versionBefore = await dp().client.getVersion();
      const transactionsBefore = fed.hub.edgeStatus()[0]?.transactions ?? 0;
      const reloadsBefore = (await dp().procState()).master.reloads;

      // Runtime-only changes: the Service's endpoint moves (a slot's address, `set server`), and a new
      // host routes to it (map entries). Neither is a transaction nor a reload.
      await fed.kubectl('alpha', ['replace', '-f', '-'], endpointSlice('moving', [{ address: c.address }]));
      await fed.kubectl('alpha', ['create', '-f', '-'], ingress(c.host.split('.')[0] as string, [{ host: c.host, paths: [{ path: '/', service: 'moving' }] }]));
      await fed.echo.settled();
      await waitFor('the moved endpoint serving', async () => (await answeredBy('moving.example.test'))?.startsWith(`${c.address}:`) === true, { timeoutMs: 20_000 });
      await waitFor('the new host served', async () => (await answeredBy(c.host))?.startsWith(`${c.address}:`) === true, { timeoutMs: 20_000 });
      const st = await dp().procState();
      assert.equal(st.master.reloads, reloadsBefore, 'went live without a reload');
      assert.equal(fed.hub.edgeStatus()[0]?.transactions, transactionsBefore, 'and without a transaction');
      // The state is runtime-only: neither the configuration nor the map files hold it yet (the hub
      // writes map files only after 5 s without a change).
      const committed = configOnDisk();
      assert.ok(!committed.includes(c.address), 'the moved address is not in haproxy.cfg');
      const files = `${await mapFile('ingressfed_hosts.map')}\n${await mapFile('ingressfed_exact.map')}\n${await mapFile('ingressfed_prefix.map')}`;
      assert.ok(!files.includes(c.host), 'the new host is in no map file');

      const logsAt = fed.logs.length;
      const prober = startProber(`${edgeUrl()}/`, 'web.example.test');
      const killedAt = Date.now();
      c.kill(st);
      // HAProxy as a whole ends, and is started again (a new master).
      const restarted = await waitFor('HAProxy running again', async () => {
        const now = await showProc(dp().masterSocket, 500).catch(() => undefined);
        return now && now.master.pid !== st.master.pid && now.workers.length > 0 ? now : undefined;
      }, { timeoutMs: 10_000, intervalMs: 10 });
      await waitFor('another route answering again', async () => (await answeredBy('web.example.test')) !== undefined, { timeoutMs: 10_000, intervalMs: 10 });
      const upAt = Date.now();
      const outage = await prober.stop();
      assert.equal(restarted.master.reloads, 0, 'a fresh HAProxy, not a reload');
      assert.ok(!restarted.workers.some((w) => w.pid === st.workers[0]?.pid), 'the old worker is gone');

      // The configuration it runs is the last committed one, untouched.
      assert.equal(configOnDisk(), committed, 'haproxy.cfg is the one committed before the crash');
      assert.equal(await dp().client.getVersion(), versionBefore, 'the configuration version did not move');

      // The hub notices the edge differs from its record and sets the runtime state again.
      const prober2 = startProber(`${edgeUrl()}/`, 'web.example.test');
      await waitFor('the moved endpoint serving again', async () => (await answeredBy('moving.example.test'))?.startsWith(`${c.address}:`) === true, { timeoutMs: MAX_REPAIR_MS, intervalMs: 20 });
      const slotAt = Date.now();
      await waitFor('the new host served again', async () => (await answeredBy(c.host))?.startsWith(`${c.address}:`) === true, { timeoutMs: MAX_REPAIR_MS, intervalMs: 20 });
      const mapAt = Date.now();
      const after = await prober2.stop();
      const repairs = fed.logs.slice(logsAt).filter((l) => /the edge differs from what the hub set; repairing/.test(l));
      console.log(`F23 (${c.what}): HAProxy down ${upAt - killedAt} ms (${outage.failures} of ${outage.requests} probes of another route failed); ` +
        `the slot re-applied ${slotAt - upAt} ms and the map entry ${mapAt - upAt} ms after HAProxy was back; ${repairs.length} repairs: ${repairs.map((l) => /"differs":(\[[^\]]*\])/.exec(l)?.[1]).join(' ')}`);
      assert.ok(repairs.length > 0, 'the hub said it found the edge differing and repaired it');
      assert.equal(fed.hub.edgeStatus()[0]?.transactions, transactionsBefore, 're-applied at runtime: no transaction');
      assert.equal((await dp().procState()).master.reloads, 0, 'and no reload');
      assert.equal(configOnDisk(), committed, 'haproxy.cfg still as committed');
      assert.ok(upAt - killedAt < MAX_DOWN_MS, `HAProxy ran again within ${MAX_DOWN_MS} ms (took ${upAt - killedAt} ms)`);
      assert.equal(after.failures, 0, `once HAProxy runs again, no probe of another route fails (${after.failures} of ${after.requests})`);
    });
  }
});
