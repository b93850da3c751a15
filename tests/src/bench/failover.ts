// Benchmark: abrupt loss of every endpoint of zone a under load through the zone-a edge, several
// rounds. Prints failed requests, time until all traffic is on zone b, and requests per second.
//   npm run bench:failover [-- --rounds 3 --concurrency 16 --seconds 7]
// With INGRESSFED_HAPROXY_LOG=1 the edge logs every request (termination state, retries) to
// ingressfed-edge-PORT.log in the temporary directory.
import { parseArgs } from 'node:util';
import { deployWeb, settledOn } from '../failover/fixtures.js';
import { httpRequest, runLoad, startFederation, waitFor, type EchoReply } from '../harness/index.js';

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '16' }, seconds: { type: 'string', default: '7' },
} });
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const durationMs = Number(values.seconds) * 1000;
const failAt = 2000;

const fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }], edges: [{ name: 'edge-a', zone: 'zone-a' }] });
try {
  const edge = fed.edges[0]?.url as string;
  await deployWeb(fed, {
    alpha: [{ address: '127.0.150.1', zone: 'zone-a' }, { address: '127.0.150.2', zone: 'zone-a' }],
    beta: [{ address: '127.0.151.1', zone: 'zone-b' }, { address: '127.0.151.2', zone: 'zone-b' }],
  });
  const onlyZoneA = async (): Promise<boolean> => {
    for (let i = 0; i < 8; i++) {
      const r = await httpRequest(`${edge}/`, { host: 'web.example.test' });
      if (r.status !== 200 || r.json<EchoReply>().zone !== 'zone-a') return false;
    }
    return true;
  };
  await waitFor('zone a serving', onlyZoneA, { timeoutMs: 20_000 });
  console.log(`failover benchmark: ${rounds} rounds, ${concurrency} keep-alive workers, ${durationMs} ms each, zone a lost at ${failAt} ms (connections refused)`);
  for (let round = 1; round <= rounds; round++) {
    const summary = await runLoad({ url: `${edge}/`, host: 'web.example.test', concurrency, durationMs, onStart: () => {
      setTimeout(() => void fed.echo.fail((meta) => meta.zone === 'zone-a'), failAt);
    } });
    const shift = settledOn(summary.results, 'zone-b');
    console.log(`  round ${round}: ${summary.results.length} requests, ${summary.requestsPerSecond.toFixed(0)} req/s, ${summary.failed} failed, ` +
      `all on zone b ${shift === undefined ? 'never' : `${shift - failAt} ms after the loss`}`);
    for (const f of summary.results.filter((r) => r.status !== 200 || r.error)) console.log(`           failed at ${f.at} ms: status ${f.status} ${f.error ?? ''}`);
    await fed.echo.recover();
    const t0 = Date.now();
    await waitFor('zone a back', onlyZoneA, { timeoutMs: 20_000 });
    console.log(`           zone a serving again ${Date.now() - t0} ms after recovery`);
  }
} finally {
  await fed.stop();
}
