import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  ManagedProcess, freePort, httpRequest, startKubernetes, startNats, tempDir, waitFor, type KubeCluster, type NatsServer,
} from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// The spoke program as its Deployment runs it: configured only by its environment and mounted
// files (no command-line option), against a real kube-apiserver as deploy/spoke's ServiceAccount,
// serving /healthz, /readyz and /metrics, and stopping gracefully on SIGTERM.

const SPOKE_BIN = fileURLToPath(new URL('../../../spoke/bin/ingressfed-spoke.mjs', import.meta.url));

/** The value of one sample of the Prometheus text, or undefined. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('spoke program: probes, metrics, configuration from the environment, graceful stop', { timeout: 120_000 }, () => {
  let nats: NatsServer;
  let kube: KubeCluster;
  let spoke: ManagedProcess;
  let probes: string;
  const dir = tempDir('spoke-program');
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const r = await httpRequest(`${probes}${path}`);
    return { status: r.status, body: r.body.toString() };
  };

  before(async () => {
    nats = await startNats();
    kube = await startKubernetes('alpha');
    const created = await kube.kubectl(['create', '-f', '-'], `---\n${[ingressClass(), service('web'), endpointSlice('web', [{ address: '10.244.1.5' }]),
      ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }])].join('\n---\n')}\n`);
    assert.equal(created.code, 0, created.stderr);
    // Mounted as the Deployment mounts them: the NATS password from a Secret, the (empty) sealing key from a ConfigMap.
    writeFileSync(join(dir.path, 'password'), `${nats.spoke('alpha').password}\n`, { mode: 0o600 });
    writeFileSync(join(dir.path, 'hub-sealing-key.pem'), '');
    await nats.kill(); // not reachable yet: the spoke must say it is not ready
    const port = await freePort();
    probes = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH, KUBECONFIG: kube.spokeKubeconfig,
      INGRESSFED_CLUSTER: 'alpha', INGRESSFED_ZONE: 'zone-a', INGRESSFED_NATS_URL: nats.url, INGRESSFED_NATS_USER: nats.spoke('alpha').user,
      INGRESSFED_NATS_PASSWORD_FILE: join(dir.path, 'password'), INGRESSFED_HUB_SEALING_KEY: join(dir.path, 'hub-sealing-key.pem'),
      INGRESSFED_LISTEN: `127.0.0.1:${port}`, INGRESSFED_ENDPOINT_MODE: 'pod', INGRESSFED_HEARTBEAT_INTERVAL: '200',
    };
    spoke = new ManagedProcess('ingressfed-spoke/alpha', process.execPath, [SPOKE_BIN], { env });
    await spoke.waitForLine(/"msg":"serving \/healthz, \/readyz and \/metrics"/);
  });

  after(async () => {
    await spoke?.stop(10_000);
    await kube?.stop();
    await nats?.stop();
    dir.remove();
  });

  it('is alive but not ready while NATS is unreachable, and says why', async () => {
    assert.equal((await get('/healthz')).status, 200);
    const ready = await get('/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /not connected to NATS/);
    assert.equal(sample((await get('/metrics')).body, 'ingressfed_spoke_nats_connected'), 0);
  });

  it('becomes ready once NATS answers and every informer has listed', async () => {
    await nats.start();
    await waitFor('/readyz 200', async () => (await get('/readyz')).status === 200, { timeoutMs: 30_000 });
    assert.ok(spoke.output().includes('"msg":"no hub sealing key: TLS Secrets are neither read nor published"'), 'the empty key file means no key');
    assert.match(await spoke.waitForLine(/"msg":"started"/), /"kubeconfig":"[^"]+spoke-kubeconfig"/, 'it says which configuration it runs with');
  });

  it('counts watch events, publishes with their latency, and refused records on /metrics', async () => {
    await waitFor('the records published', async () => (sample((await get('/metrics')).body, 'ingressfed_spoke_published_total{op="put"}') ?? 0) >= 4);
    let m = (await get('/metrics')).body;
    assert.ok((sample(m, 'ingressfed_spoke_watch_events_total{kind="ingresses",type="relisted"}') ?? 0) >= 1, m);
    assert.ok((sample(m, 'ingressfed_spoke_publish_duration_seconds_count{kind="full"}') ?? 0) >= 1, m);
    assert.equal(sample(m, 'ingressfed_spoke_informers_synced{kind="endpointSlices"}'), 1);
    assert.equal(sample(m, 'ingressfed_spoke_nats_connected'), 1);
    assert.equal(sample(m, 'ingressfed_spoke_records_refused_total'), 0);
    // A real API server accepts a 100 KB path; the hub would refuse it, so the spoke withholds it.
    const long = await kube.kubectl(['create', '-f', '-'], ingress('long', [{ host: 'long.example.test', paths: [{ path: `/${'p'.repeat(100 * 1024)}`, service: 'web' }] }]));
    assert.equal(long.code, 0, long.stderr);
    m = await waitFor('the refusal counted', async () => {
      const t = (await get('/metrics')).body;
      return sample(t, 'ingressfed_spoke_records_refused_total') === 1 ? t : undefined;
    });
    assert.ok((sample(m, 'ingressfed_spoke_watch_events_total{kind="ingresses",type="changed"}') ?? 0) >= 1, m);
    assert.equal(sample(m, 'ingressfed_spoke_records_refused'), 1);
    assert.equal(sample(m, 'ingressfed_spoke_publish_errors_total'), 0);
  });

  it('answers only GET and HEAD on its three paths', async () => {
    assert.equal((await get('/nope')).status, 404);
    assert.equal((await httpRequest(`${probes}/readyz`, { method: 'POST' })).status, 405);
  });

  it('stops gracefully on SIGTERM: exit code 0, the probe server closed', async () => {
    spoke.child.kill('SIGTERM');
    await waitFor('the process to exit', () => !spoke.running, { timeoutMs: 15_000 });
    assert.equal(spoke.code, 0, spoke.output());
    assert.ok(spoke.output().includes('"msg":"stopped"'));
    await assert.rejects(get('/healthz'));
  });
});
