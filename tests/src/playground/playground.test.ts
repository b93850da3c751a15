import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { STATE_BUCKET, infoKey } from '@ingressfed/schemas';
import { spokeInboxPrefix } from '@ingressfed/schemas/nats';
import { ManagedProcess, freePort, httpRequest, runKubectl, tempDir, waitFor, type EchoReply } from '../harness/index.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const CTL = fileURLToPath(new URL('../../bin/ingressfed-playground.mjs', import.meta.url));

interface PlaygroundJson {
  haproxyUrl: string;
  httpsUrl: string;
  caFile: string;
  hubUrl: string;
  hubTokens: { read: string; admin: string };
  dataplaneApi: { url: string; username: string; password: string };
  nats: string;
  clusters: Record<string, { zone: string; kubeconfig: string; spokeKubeconfig: string; server: string; nats: { user: string; password: string } }>;
}

describe('playground: starts the whole product, serves the examples, stops everything', { timeout: 120_000 }, () => {
  let pg: ManagedProcess;
  let out: { path: string; remove: () => void };
  let info: PlaygroundJson;

  before(async () => {
    out = tempDir('playground');
    const port = await freePort();
    const httpsPort = await freePort();
    pg = new ManagedProcess('playground', process.execPath, ['--conditions=ingressfed-source', '--import', 'tsx', MAIN, '--http-port', String(port), '--https-port', String(httpsPort), '--out', out.path]);
    await pg.waitForLine(/^ready /, 90_000);
    info = JSON.parse(readFileSync(join(out.path, 'playground.json'), 'utf8')) as PlaygroundJson;
  });

  after(async () => {
    await pg?.stop(20_000, 'SIGINT');
    out?.remove();
  });

  it('writes playground.json with the entry point, hub, Data Plane API and a kubeconfig per cluster', () => {
    assert.match(info.haproxyUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(info.hubUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(info.dataplaneApi.password.length > 0);
    assert.deepEqual(Object.keys(info.clusters).sort(), ['alpha', 'beta']);
    assert.equal(info.clusters.beta?.zone, 'zone-b');
  });

  it("writes each cluster's NATS credentials, prints how to connect, and confines them to that cluster's keys", async () => {
    const alpha = info.clusters.alpha?.nats;
    assert.ok(alpha && alpha.user === 'spoke-alpha' && alpha.password.length >= 24);
    assert.ok(pg.output().includes(`NATS as alpha:      ${info.nats} user spoke-alpha`));
    const nc = await connect({ servers: info.nats, user: alpha.user, pass: alpha.password, inboxPrefix: spokeInboxPrefix('alpha') });
    try {
      const kv = await new Kvm(jetstream(nc)).open(STATE_BUCKET, { allow_direct: true });
      assert.ok(await kv.get(infoKey('alpha')), "alpha reads its own keys");
      await assert.rejects(kv.get(infoKey('beta')), /permissions violation/i, "and not beta's");
    } finally {
      await nc.close();
    }
  });

  it('serves secure.example.test over HTTPS with its CA in the playground folder, as the printed curl command does', async () => {
    assert.match(info.httpsUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.caFile, join(out.path, 'ca.crt'));
    const command = pg.output().split('\n').find((l) => l.includes('curl --cacert'));
    assert.ok(command, 'the curl command printed');
    const args = (command.split('e.g. curl ')[1] ?? '').split(' ');
    const reply = await waitFor('secure.example.test over HTTPS', () => new Promise<string | undefined>((resolve) => {
      execFile('curl', ['-sS', '--max-time', '5', ...args], (err, stdout) => resolve(err ? undefined : stdout));
    }), { timeoutMs: 30_000, intervalMs: 250 });
    assert.equal((JSON.parse(reply) as EchoReply).cluster, 'alpha');
    const plain = await httpRequest(`${info.haproxyUrl}/`, { host: 'secure.example.test' });
    assert.equal(plain.status, 308, 'plain HTTP redirected');
  });

  it('prints the hub API address and a read token that the hub accepts', async () => {
    assert.ok(pg.output().includes(`hub API              ${info.hubUrl}/api/v1/   read token ${info.hubTokens.read}`));
    const res = await fetch(`${info.hubUrl}/api/v1/clusters`, { headers: { Authorization: `Bearer ${info.hubTokens.read}` } });
    assert.deepEqual(((await res.json()) as { items: Array<{ name: string }> }).items.map((c) => c.name), ['alpha', 'beta']);
  });

  it('serves web.example.test from both example clusters and api.example.test/v1 from alpha', async () => {
    const clusters = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const r = await httpRequest(`${info.haproxyUrl}/`, { host: 'web.example.test' });
      assert.equal(r.status, 200);
      clusters.add(String(r.json<EchoReply>().cluster));
    }
    assert.deepEqual([...clusters].sort(), ['alpha', 'beta']);
    const api = await httpRequest(`${info.haproxyUrl}/v1/items`, { host: 'api.example.test' });
    assert.equal(api.json<EchoReply>().service, 'api');
    assert.equal((await httpRequest(`${info.haproxyUrl}/v2`, { host: 'api.example.test' })).status, 404);
  });

  it('runs each cluster on a real kube-apiserver: kubectl version names the server\'s release', async () => {
    for (const c of ['alpha', 'beta']) {
      const r = await runKubectl(info.clusters[c]?.kubeconfig as string, ['version', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const v = JSON.parse(r.stdout) as { serverVersion: { gitVersion: string; major: string; minor: string; platform: string } };
      assert.match(v.serverVersion.gitVersion, /^v1\.(3[2-9]|[4-9]\d)\.\d+$/, 'a Kubernetes release, v1.32 or newer');
      assert.equal(v.serverVersion.major, '1');
      assert.match(pg.output(), new RegExp(`cluster ${c} \\(zone-.\\): kube-apiserver ${info.clusters[c]?.server}`));
    }
  });

  it('runs each spoke as deploy/spoke-node-ports\' ServiceAccount, with only its rights', async () => {
    const spoke = info.clusters.alpha?.spokeKubeconfig as string;
    assert.equal((await runKubectl(spoke, ['auth', 'can-i', 'list', 'ingresses', '-A'])).stdout.trim(), 'yes');
    assert.equal((await runKubectl(spoke, ['auth', 'can-i', 'list', 'nodes'])).stdout.trim(), 'yes');
    assert.equal((await runKubectl(spoke, ['auth', 'can-i', 'delete', 'ingresses', '-A'])).stdout.trim(), 'no');
  });

  it('lets kubectl change a cluster through the kubeconfig it wrote', async () => {
    const run = async (args: string[]): Promise<number> => (await runKubectl(info.clusters.alpha?.kubeconfig as string, args)).code;
    assert.equal(await run(['delete', 'ingress', 'api']), 0);
    await waitFor('api route gone', async () => (await httpRequest(`${info.haproxyUrl}/v1/items`, { host: 'api.example.test' })).status === 404, { timeoutMs: 5000 });
  });

  it('fails a zone and recovers it with ingressfed-playground fail/recover', async () => {
    const ctl = (args: string[]): Promise<{ code: number; out: string }> => new Promise((resolve) => {
      execFile(process.execPath, [CTL, ...args, '--out', out.path], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }));
    });
    const clusters = async (n: number): Promise<string[]> => {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) {
        const r = await httpRequest(`${info.haproxyUrl}/`, { host: 'web.example.test' });
        seen.add(r.status === 200 ? String(r.json<EchoReply>().cluster) : `status ${r.status}`);
      }
      return [...seen].sort();
    };
    const failed = await ctl(['fail', '--zone', 'zone-b']);
    assert.equal(failed.code, 0, failed.out);
    // beta's Nodes (127.0.2.1 and .2) at web's node port.
    assert.match(failed.out, /refusing connections: 127\.0\.2\.1:30080, 127\.0\.2\.2:30080/);
    await waitFor('only alpha serving', async () => (await clusters(8)).join() === 'alpha', { timeoutMs: 5000 });
    const list = await ctl(['endpoints']);
    assert.match(list.out, /127\.0\.2\.1:30080 +beta +zone-b +web +refusing/);
    assert.equal((await ctl(['recover'])).code, 0);
    await waitFor('both clusters again', async () => (await clusters(12)).join() === 'alpha,beta', { timeoutMs: 10_000 });
    const bad = await ctl(['fail', '--zone', 'nowhere']);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /no endpoint in zone nowhere/);
  });

  it('stops every process it started on interrupt', async () => {
    await pg.stop(20_000, 'SIGINT');
    assert.match(pg.output(), /stopping \(SIGINT\)/);
    await assert.rejects(httpRequest(`${info.haproxyUrl}/`, { host: 'web.example.test', timeoutMs: 1000 }));
    await assert.rejects(fetch(`${info.hubUrl}/healthz`));
  });
});
