import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { showProc } from '@ingressfed/dataplane/local';
import { httpRequest, startFederation, waitFor, type Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Fault row F25 of the matrix: long-lived streams through HAProxy reloads. Every transaction reloads
// HAProxy; a reload forks a new worker and soft-stops the old one, which keeps the connections it
// holds until they end or until `hard-stop-after` (then it is killed). Old workers are bounded by
// `mworker-max-reloads` (an old worker that many reloads old is killed), and the local Data Plane API
// server starts a reload at most once per `--reload-delay`: changes within one share it.

const RELOAD_DELAY_MS = 1000;
/** Reloads caused one at a time, each by a transaction (a new Ingress with a Service of its own). */
const SERIAL_RELOADS = 5;
/** Ingresses created in one burst, faster than the reload delay. */
const BURST = 6;
const STREAM_ADDRESS = '127.0.240.1';
const CHUNK = 100;
const CHUNK_EVERY_MS = 100;

/** A backend that answers /stream with CHUNK bytes every CHUNK_EVERY_MS until the client goes, anything else at once. */
async function startStreamingBackend(address: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/stream')) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => res.write(`${'x'.repeat(CHUNK - 1)}\n`), CHUNK_EVERY_MS);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return server;
}

interface HeldStream {
  /** The HAProxy worker that was current when the stream opened (HAProxy 2.6 runs one). */
  worker: number;
  /** The master's reload counter when the stream opened. */
  openedAtReload: number;
  bytes: number;
  /** When the stream ended (Date.now()), and why; undefined while it flows. */
  endedAt: number | undefined;
  why: string | undefined;
  close(): void;
}

/** Opens a stream through the edge and resolves once its first bytes arrived. */
function holdStream(url: string, host: string, worker: number, openedAtReload: number): Promise<HeldStream> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const s: HeldStream = { worker, openedAtReload, bytes: 0, endedAt: undefined, why: undefined, close: () => req.destroy() };
    const end = (why: string): void => {
      s.endedAt ??= Date.now();
      s.why ??= why;
    };
    const req = request({ hostname: u.hostname, port: u.port, path: '/stream', headers: { host }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`the stream answered ${res.statusCode}`));
        res.resume();
        return;
      }
      res.on('data', (c: Buffer) => {
        s.bytes += c.length;
        resolve(s);
      });
      res.on('aborted', () => end('aborted'));
      res.on('error', (err) => end(err.message));
      res.on('end', () => end('ended'));
      res.on('close', () => end('closed'));
    });
    req.on('error', (err) => {
      end(err.message);
      reject(err);
    });
    req.end();
  });
}

describe('faults: reloads with long-lived connections', { timeout: 150_000 }, () => {
  let fed: Federation;
  let backend: Server | undefined;
  const streams: HeldStream[] = [];
  const edgeUrl = (): string => fed.edges[0]?.url as string;
  const dp = (): Federation['edges'][number]['dp'] => fed.edges[0]?.dp as Federation['edges'][number]['dp'];
  const served = async (host: string): Promise<boolean> => (await httpRequest(`${edgeUrl()}/`, { host, timeoutMs: 2000 }).catch(() => undefined))?.status === 200;

  before(async () => {
    // Bound before the slice names it: the echo fleet finds the port taken and leaves it to this backend.
    backend = await startStreamingBackend(STREAM_ADDRESS, 8080);
    // No spare backends: every new Service is a transaction, so every one reloads HAProxy.
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }], edges: [{ name: 'edge-a', zone: 'zone-a', spareBackends: 0 }], reloadDelaySeconds: RELOAD_DELAY_MS / 1000 });
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${[ingressClass(), service('stream'), endpointSlice('stream', [{ address: STREAM_ADDRESS }]),
      ingress('stream', [{ host: 'stream.example.test', paths: [{ path: '/', service: 'stream' }] }])].join('\n---\n')}\n`);
    await waitFor('the stream route served', () => served('stream.example.test'), { timeoutMs: 20_000 });
  });

  after(async () => {
    for (const s of streams) s.close();
    await fed?.stop();
    backend?.closeAllConnections();
    await new Promise<void>((r) => (backend ? backend.close(() => r()) : r()));
  });

  it(`F25: streams held through ${SERIAL_RELOADS} reloads and a burst of ${BURST} changes keep flowing after every reload until hard-stop-after; old workers stay within mworker-max-reloads; reloads start at least a reload delay apart, a burst sharing them`, async () => {
    const cfg = readFileSync(join(dp().workdir, 'haproxy.cfg'), 'utf8');
    const hardStopMs = Number(/^\s*hard-stop-after (\d+)s$/m.exec(cfg)?.[1]) * 1000;
    const maxReloads = Number(/^\s*mworker-max-reloads (\d+)$/m.exec(cfg)?.[1]);
    assert.ok(hardStopMs > 0 && maxReloads > 0, 'haproxy.cfg sets hard-stop-after and mworker-max-reloads');

    // Every reload as HAProxy's master reports it (its reload counter), and the most old workers seen.
    const reloads: Array<{ at: number; count: number }> = [];
    let mostOldWorkers = 0;
    let failedReloads = 0;
    let polling = true;
    // Nothing of the setup still going to the edge.
    await waitFor('the edge settled', async () => {
      await fed.hub.idle();
      return fed.hub.edgeStatus()[0]?.transactionDeferred === false;
    }, { timeoutMs: 15_000 });
    const first = await dp().procState();
    let count = first.master.reloads;
    const poller = (async () => {
      while (polling) {
        const st = await showProc(dp().masterSocket, 500).catch(() => undefined);
        if (st) {
          if (st.master.reloads > count) {
            for (let n = count + 1; n <= st.master.reloads; n++) reloads.push({ at: Date.now(), count: n });
            count = st.master.reloads;
          }
          mostOldWorkers = Math.max(mostOldWorkers, st.oldWorkers.length);
          failedReloads = st.master.failed ?? 0;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    /** Opens a stream on the current worker (no reload in between). */
    const open = async (): Promise<HeldStream> => {
      const before = await dp().procState();
      const s = await holdStream(edgeUrl(), 'stream.example.test', before.workers[0]?.pid as number, before.master.reloads);
      const now = await dp().procState();
      assert.equal(now.master.reloads, before.master.reloads, 'no reload while the stream opened');
      streams.push(s);
      return s;
    };
    /** Every stream still flows: at least three more chunks since `marks`. */
    const allFlowing = async (what: string): Promise<void> => {
      const marks = streams.map((s) => s.bytes);
      await waitFor(`every stream flowing after ${what}`, () => streams.every((s, i) => s.endedAt === undefined && s.bytes >= (marks[i] as number) + 3 * CHUNK), { timeoutMs: 5000 });
    };
    const newService = (name: string, address: string): string => `---\n${[service(name), endpointSlice(name, [{ address }]),
      ingress(name, [{ host: `${name}.example.test`, paths: [{ path: '/', service: name }] }])].join('\n---\n')}\n`;

    try {
      const oldest = await open();
      // Reloads one at a time, a stream opened on each new worker.
      for (let i = 1; i <= SERIAL_RELOADS; i++) {
        const had = reloads.length;
        await fed.kubectl('alpha', ['create', '-f', '-'], newService(`serial-${i}`, `127.0.240.${10 + i}`));
        await fed.echo.settled();
        await waitFor(`serial-${i} served`, () => served(`serial-${i}.example.test`), { timeoutMs: 20_000 });
        await waitFor(`reload ${i}`, () => reloads.length > had, { timeoutMs: 10_000 });
        await allFlowing(`reload ${i}`);
        await open();
      }
      const firstReloadAt = reloads[0]?.at as number;

      // A burst of changes, faster than the reload delay.
      const burstFrom = reloads.length;
      const burstStart = Date.now();
      for (let i = 1; i <= BURST; i++) await fed.kubectl('alpha', ['create', '-f', '-'], newService(`burst-${i}`, `127.0.240.${30 + i}`));
      await fed.echo.settled();
      for (let i = 1; i <= BURST; i++) await waitFor(`burst-${i} served`, () => served(`burst-${i}.example.test`), { timeoutMs: 20_000 });
      const burstMs = Date.now() - burstStart;
      // The last burst reload is seen by the poller when HAProxy has finished it.
      await waitFor('the reloads settled', async () => {
        await fed.hub.idle();
        return (await dp().procState()).master.reloads === count;
      }, { timeoutMs: 10_000 });
      const burstReloads = reloads.length - burstFrom;
      await allFlowing('the burst');

      const st = await dp().procState();
      const oldOne = st.oldWorkers.find((w) => w.pid === oldest.worker);
      const total = reloads.length;
      const gaps = reloads.slice(1).map((r, i) => r.at - (reloads[i]?.at as number));
      console.log(`F25: ${total} reloads (${SERIAL_RELOADS} one at a time, ${burstReloads} for a burst of ${BURST} Ingresses over ${burstMs} ms); ` +
        `gaps between reloads ${gaps.map((g) => `${g}`).join(', ')} ms (reload delay ${RELOAD_DELAY_MS} ms); ${streams.length} streams flowing; ` +
        `old workers now ${st.oldWorkers.length}, at most ${mostOldWorkers} (mworker-max-reloads ${maxReloads}); the oldest stream's worker ${oldest.worker} is ${oldOne?.reloads} reloads old`);
      assert.equal(failedReloads, 0, 'no reload failed');
      assert.ok(oldOne !== undefined, 'the first stream\'s worker lives on as an old worker');
      assert.equal(oldOne.reloads, st.master.reloads - oldest.openedAtReload, 'counting every reload since (which mworker-max-reloads limits)');
      // Each stream holds its worker: one old worker per reload, none beyond the limit.
      assert.ok(mostOldWorkers <= maxReloads, `old workers (${mostOldWorkers}) within mworker-max-reloads (${maxReloads})`);
      assert.ok(st.oldWorkers.length >= SERIAL_RELOADS, 'the workers holding streams are old workers still');
      assert.ok(gaps.every((g) => g >= RELOAD_DELAY_MS - 200), `reloads at least a reload delay apart: ${gaps.join(', ')} ms`);
      assert.ok(burstReloads < BURST, `a burst of ${BURST} changes shared its reloads (${burstReloads})`);
      assert.ok(burstReloads <= Math.floor(burstMs / RELOAD_DELAY_MS) + 1, `at most one reload per reload delay during the burst (${burstReloads} in ${burstMs} ms)`);

      // Until hard-stop-after: the oldest stream, soft-stopped at the first reload, is cut then, not before.
      const cut = await waitFor('the oldest stream cut by hard-stop-after', () => oldest.endedAt, { timeoutMs: hardStopMs + 10_000 - (Date.now() - firstReloadAt), intervalMs: 20 });
      const heldFor = cut - firstReloadAt;
      const newest = streams[streams.length - 1] as HeldStream;
      console.log(`F25: the oldest stream (${oldest.bytes} bytes) ended (${oldest.why}) ${heldFor} ms after the reload that soft-stopped its worker (hard-stop-after ${hardStopMs} ms)`);
      assert.ok(heldFor >= hardStopMs - 500, `not cut before hard-stop-after (${heldFor} ms)`);
      assert.ok(heldFor <= hardStopMs + 3000, `cut at hard-stop-after (${heldFor} ms)`);
      // The worker cuts its connections and then exits: the master sees it go a moment later.
      await waitFor('the oldest stream\'s worker gone', async () => !(await dp().procState()).oldWorkers.some((w) => w.pid === oldest.worker), { timeoutMs: 5000 });
      // The stream on the current worker, never soft-stopped, still flows.
      const mark = newest.bytes;
      await waitFor('the newest stream flowing', () => newest.endedAt === undefined && newest.bytes >= mark + 3 * CHUNK, { timeoutMs: 5000 });
    } finally {
      polling = false;
      await poller;
    }
  });
});
