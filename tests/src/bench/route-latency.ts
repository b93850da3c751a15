// Benchmark: time from `kubectl create` of an Ingress to the route answering through HAProxy, and
// from `kubectl delete` to 404. Prints figures; asserts nothing about time.
//   npm run bench:route-latency [-- --runs 20]
import { parseArgs } from 'node:util';
import { httpRequest, startFederation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);

const fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }] });
try {
  const kube = fed.clusters.get('alpha')?.kube;
  if (!kube) throw new Error('no cluster alpha');
  const edge = fed.edges[0]?.url as string;
  const must = async (args: string[], input?: string): Promise<void> => {
    const r = await kube.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  };
  await must(['create', '-f', '-'], ingressClass());
  await must(['create', '-f', '-'], service('lat'));
  await must(['create', '-f', '-'], endpointSlice('lat', [{ address: '127.0.30.1' }]));
  await fed.echo.settled();

  const until = async (host: string, status: number, deadlineMs = 10_000): Promise<void> => {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const r = await httpRequest(`${edge}/`, { host }).catch(() => ({ status: 0 }));
      if (r.status === status) return;
      if (Date.now() > end) throw new Error(`${host} did not answer ${status} within ${deadlineMs} ms`);
      await new Promise((res) => setTimeout(res, 2));
    }
  };

  const live: number[] = [];
  const liveAfterKubectl: number[] = [];
  const gone: number[] = [];
  for (let i = 0; i < runs; i++) {
    const host = `lat-${i}.example.test`;
    const t0 = performance.now();
    await must(['create', '-f', '-'], ingress(`lat-${i}`, [{ host, paths: [{ path: '/', service: 'lat' }] }]));
    const t1 = performance.now();
    await until(host, 200);
    const t2 = performance.now();
    live.push(t2 - t0);
    liveAfterKubectl.push(t2 - t1);
    const t3 = performance.now();
    await must(['delete', 'ingress', `lat-${i}`]);
    await until(host, 404);
    gone.push(performance.now() - t3);
  }
  const stat = (xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
    return `median ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, worst ${(s.at(-1) as number).toFixed(0)} ms`;
  };
  console.log(`route latency over ${runs} runs (HAProxy reload delay 0.1 s, one edge, two clusters):`);
  console.log(`  kubectl create -> route live:            ${stat(live)}`);
  console.log(`  kubectl create returned -> route live:   ${stat(liveAfterKubectl)}`);
  console.log(`  kubectl delete -> 404:                   ${stat(gone)}`);
  console.log(`  HAProxy reloads during the run:          ${(await fed.edges[0]?.dp.procState())?.master.reloads}`);
} finally {
  await fed.stop();
}
