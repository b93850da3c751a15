// The playground: the product on one machine. NATS, Redis, the local Data Plane API server with its
// HAProxy, the hub and one spoke per cluster run as real processes; each cluster is a real
// kube-apiserver (with etcd) running deploy/spoke-node-ports' RBAC, two Ready Nodes on loopback
// addresses and its manifests created by kubectl; the spokes reach Services through their node
// ports, and every node port of every Node gets an echo server.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDnsLabel, isZoneName, newSealingKeyPair } from '@ingressfed/schemas';
import { startControlServer } from './control-server.js';
import { parseCommandLine, stopOnSignals, usageError } from '@ingressfed/schemas/cli';
import { spokeInboxPrefix } from '@ingressfed/schemas/nats';
import {
  EchoFleet, ManagedProcess, freePort, makeTestCa, startLocalDataPlane, startNodePortCluster, startNats, startRedis, waitFor,
  type KubeCluster, type LocalDataPlane, type NatsServer, type RedisServer, type TestCa,
} from '../harness/index.js';
import { tlsSecret } from '../kube/manifests.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const USAGE = `usage: scripts/playground.sh [--cluster NAME=ZONE:DIR]... [--http-port PORT] [--https-port PORT] [--out DIR]
       (then: npx ingressfed-playground fail --zone ZONE | recover | endpoints)

  --cluster NAME=ZONE:DIR  a cluster and the folder of manifests to create in it (repeatable;
                           default: the examples in deploy/examples, alpha in zone-a and beta in zone-b);
                           the Nth cluster gets the Nodes NAME-node-1 and -2 at 127.0.N.1 and .2,
                           where its NodePort Services are answered
  --http-port PORT         port of the HAProxy entry point on 127.0.0.1 (default 8080)
  --https-port PORT        its HTTPS port (default 8443); the playground makes a CA (ca.crt in
                           --out) and, in every cluster, the Secret secure-tls for secure.example.test
  --out DIR                where playground.json, kubeconfigs and logs go (default .playground)
`;

function fail(msg: string): never {
  return usageError('playground', USAGE, msg);
}

const values = parseCommandLine('playground', USAGE, {
  cluster: { type: 'string', multiple: true },
  'http-port': { type: 'string', default: '8080' },
  'https-port': { type: 'string', default: '8443' },
  out: { type: 'string', default: '.playground' },
});
const httpPort = Number(values['http-port']);
if (!Number.isInteger(httpPort) || httpPort < 1 || httpPort > 65535) fail(`--http-port ${values['http-port']} is not a port`);
const httpsPort = Number(values['https-port']);
if (!Number.isInteger(httpsPort) || httpsPort < 1 || httpsPort > 65535 || httpsPort === httpPort) fail(`--https-port ${values['https-port']} is not a port other than --http-port`);

interface ClusterArg { name: string; zone: string; dir: string }
const clusterArgs: ClusterArg[] = (values.cluster ?? [`alpha=zone-a:${join(ROOT, 'deploy/examples/alpha')}`, `beta=zone-b:${join(ROOT, 'deploy/examples/beta')}`])
  .map((spec) => {
    const m = /^([^=]+)=([^:]+):(.+)$/.exec(spec);
    if (!m) fail(`--cluster ${spec} is not NAME=ZONE:DIR`);
    const [, name, zone, dir] = m as unknown as [string, string, string, string];
    if (!isDnsLabel(name)) fail(`--cluster ${spec}: ${name} is not a DNS label`);
    if (!isZoneName(zone)) fail(`--cluster ${spec}: ${zone} is not a zone name`);
    const abs = resolve(dir);
    try {
      if (!statSync(abs).isDirectory()) fail(`--cluster ${spec}: ${abs} is not a folder`);
    } catch {
      fail(`--cluster ${spec}: ${abs} does not exist`);
    }
    return { name, zone, dir: abs };
  });
if (new Set(clusterArgs.map((c) => c.name)).size !== clusterArgs.length) fail('cluster names must be distinct');

const out = resolve(values.out);
const logs = join(out, 'logs');
mkdirSync(logs, { recursive: true });

let nats: NatsServer | undefined;
let redis: RedisServer | undefined;
let dp: LocalDataPlane | undefined;
let control: Awaited<ReturnType<typeof startControlServer>> | undefined;
let ca: TestCa | undefined;
let hub: ManagedProcess | undefined;
const kubes = new Map<string, KubeCluster>();
const spokes: ManagedProcess[] = [];
const echo = new EchoFleet();

async function stopAll(): Promise<void> {
  control?.server.close();
  for (const s of spokes) await s.stop();
  await hub?.stop();
  await echo.stop();
  await dp?.stop();
  for (const k of kubes.values()) await k.stop();
  await redis?.stop();
  await nats?.stop();
  ca?.remove();
}

stopOnSignals(stopAll, (signal) => process.stdout.write(`
stopping (${signal})
`));

const node = process.execPath;
const say = (s: string): void => void process.stdout.write(`${s}\n`);

try {
  nats = await startNats({ clusters: clusterArgs.map((c) => c.name) });
  redis = await startRedis();
  dp = await startLocalDataPlane({ reloadDelaySeconds: 0.5 });
  say(`NATS ${nats.url}, Redis ${redis.address}, Data Plane API ${dp.url}/v3 (credentials in playground.json)`);
  // HTTPS: the hub's sealing key pair, and a CA whose certificate for secure.example.test each cluster holds as a Secret.
  const sealing = newSealingKeyPair();
  const sealingKey = join(out, 'hub-sealing.key');
  const sealingPub = join(out, 'hub-sealing.pub');
  writeFileSync(sealingKey, sealing.privateKeyPem, { mode: 0o600 });
  writeFileSync(sealingPub, sealing.publicKeyPem);
  ca = makeTestCa('playground');
  const caFile = join(out, 'ca.crt');
  writeFileSync(caFile, ca.ca);
  const secure = ca.site(['secure.example.test']);

  const clusters: Record<string, { zone: string; kubeconfig: string; spokeKubeconfig: string; server: string; manifests: string; nats: { user: string; password: string } }> = {};
  for (const [i, c] of clusterArgs.entries()) {
    // What kubelets would register: two Ready Nodes in the cluster's zone.
    const kube = await startNodePortCluster(c.name, c.zone, [`127.0.${i + 1}.1`, `127.0.${i + 1}.2`]);
    kubes.set(c.name, kube);
    const kubeconfig = join(out, `${c.name}.kubeconfig`);
    copyFileSync(kube.kubeconfig, kubeconfig);
    const spokeKubeconfig = join(out, `${c.name}-spoke.kubeconfig`);
    copyFileSync(kube.spokeKubeconfig, spokeKubeconfig);
    await echo.followNodePorts(c.name, c.zone, kube.kubeconfig);
    const secret = await kube.kubectl(['create', '-f', '-'], tlsSecret('secure-tls', secure.cert, secure.key));
    if (secret.code !== 0) throw new Error(`kubectl create secret secure-tls in cluster ${c.name}: ${secret.stderr.trim()}`);
    const files = readdirSync(c.dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
    for (const f of files) {
      const r = await kube.kubectl(['create', '-f', join(c.dir, f)]);
      if (r.code !== 0) throw new Error(`kubectl create -f ${join(c.dir, f)} in cluster ${c.name}: ${r.stderr.trim()}`);
    }
    clusters[c.name] = { zone: c.zone, kubeconfig, spokeKubeconfig, server: kube.server, manifests: c.dir, nats: nats.spoke(c.name) };
    say(`cluster ${c.name} (${c.zone}): kube-apiserver ${kube.server}, ${files.length} manifest files, kubeconfig ${kubeconfig}`);
  }

  const apiPort = await freePort();
  const readToken = randomBytes(16).toString('hex');
  const adminToken = randomBytes(16).toString('hex');
  const hubConfig = join(out, 'hub.json');
  writeFileSync(hubConfig, JSON.stringify({
    nats: { url: nats.url, user: nats.auth.hub.user, password: nats.auth.hub.password },
    redis: { url: redis.url },
    // The playground's endpoints are echo servers on loopback addresses, which the hub refuses by default.
    allowedEndpointCidrs: { '*': ['127.0.0.0/8'] },
    sealingKeyFiles: [sealingKey],
    api: { host: '127.0.0.1', port: apiPort, tokens: [{ name: 'playground-read', token: readToken, role: 'read' }, { name: 'playground-admin', token: adminToken, role: 'admin' }] },
    edges: [{ name: 'edge-a', zone: clusterArgs[0]?.zone ?? 'zone-a', url: dp.url, username: dp.username, password: dp.password, bindAddress: '127.0.0.1', bindPort: httpPort, httpsBindPort: httpsPort, publicAddress: '127.0.0.1' }],
  }, null, 2) + '\n', { mode: 0o600 });
  hub = new ManagedProcess('ingressfed-hub', node, [join(ROOT, 'hub/bin/ingressfed-hub.mjs'), '--config', hubConfig], { logFile: join(logs, 'hub.log') });
  await hub.waitForLine(/"msg":"started"/, 30_000);
  for (const c of clusterArgs) {
    const spoke = new ManagedProcess(`ingressfed-spoke ${c.name}`, node, [
      join(ROOT, 'spoke/bin/ingressfed-spoke.mjs'), '--cluster', c.name, '--zone', c.zone, '--nats', nats.url,
      // As deploy/spoke-node-ports' ServiceAccount: the rights the manifests give it, no more.
      '--kubeconfig', clusters[c.name]?.spokeKubeconfig as string, '--endpoint-mode', 'nodeport', '--hub-sealing-key', sealingPub,
    ], {
      logFile: join(logs, `spoke-${c.name}.log`),
      // Secrets go through the environment, never the command line (which `ps` shows).
      env: { ...process.env, INGRESSFED_NATS_USER: nats.spoke(c.name).user, INGRESSFED_NATS_PASSWORD: nats.spoke(c.name).password },
    });
    spokes.push(spoke);
    await spoke.waitForLine(/"msg":"started"/, 30_000);
  }
  const hubUrl = `http://127.0.0.1:${apiPort}`;
  await waitFor('the hub to program the edge', async () => {
    const st = await fetch(`${hubUrl}/api/v1/state`, { headers: { Authorization: `Bearer ${readToken}` } }).then((r) => r.json()) as { ready: boolean; edges: Array<{ applies: number }> };
    return st.ready && (st.edges[0]?.applies ?? 0) > 0;
  }, { timeoutMs: 30_000, intervalMs: 100 });
  await echo.settled();
  control = await startControlServer(echo);

  const info = {
    haproxyUrl: `http://127.0.0.1:${httpPort}`,
    httpsUrl: `https://127.0.0.1:${httpsPort}`,
    caFile,
    hubUrl,
    hubTokens: { read: readToken, admin: adminToken },
    dataplaneApi: { url: dp.url, username: dp.username, password: dp.password },
    nats: nats.url,
    redis: redis.url,
    clusters,
    logs,
    controlUrl: control.url,
  };
  const infoFile = join(out, 'playground.json');
  writeFileSync(infoFile, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  say(`HAProxy entry point  ${info.haproxyUrl}   e.g. curl -H 'Host: web.example.test' ${info.haproxyUrl}/`);
  say(`HTTPS                ${info.httpsUrl}   e.g. curl --cacert ${caFile} --resolve secure.example.test:${httpsPort}:127.0.0.1 https://secure.example.test:${httpsPort}/`);
  say(`hub API              ${hubUrl}/api/v1/   read token ${readToken} (admin token in playground.json)`);
  say(`CLI:                 INGRESSFED_SERVER=${hubUrl} INGRESSFED_TOKEN=${readToken} npx ingressfed get routes`);
  for (const [name, c] of Object.entries(clusters)) say(`kubectl, ${name}:     KUBECONFIG=${c.kubeconfig} .tools/bin/kubectl get ingress -A`);
  for (const [name, c] of Object.entries(clusters)) {
    say(`NATS as ${name}:      ${nats.url} user ${c.nats.user}, password in playground.json (clusters.${name}.nats), inbox prefix ${spokeInboxPrefix(name)}; may write only ${name}.* keys`);
  }
  say(`fail a zone:         npx ingressfed-playground fail --zone ${clusterArgs[0]?.zone ?? 'zone-a'}   (then: npx ingressfed-playground recover)`);
  say(`ready ${infoFile}`);
} catch (err) {
  process.stderr.write(`playground failed to start: ${(err as Error).message}\n`);
  await stopAll();
  process.exit(1);
}
