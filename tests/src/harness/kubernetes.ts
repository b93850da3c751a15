import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTestCa, type TestCa } from './certs.js';
import { runKubectl, type KubeCluster } from './kube.js';
import { ManagedProcess } from './process.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

const TOOLS = fileURLToPath(new URL('../../../.tools/bin/', import.meta.url));
/** The spoke's manifests: what every real cluster of the tests runs the spoke with. */
export const SPOKE_MANIFESTS = fileURLToPath(new URL('../../../deploy/spoke', import.meta.url));
/** The same with the node-ports component (the spoke also watches Nodes). */
const SPOKE_NODE_PORT_MANIFESTS = fileURLToPath(new URL('../../../deploy/spoke-node-ports', import.meta.url));
const SPOKE_NAMESPACE = 'ingressfed-system';
const SPOKE_ACCOUNT = 'ingressfed-spoke';

function tool(name: 'etcd' | 'kube-apiserver'): string {
  const p = join(TOOLS, name);
  if (!existsSync(p)) throw new Error(`${p} is missing: scripts/setup.sh builds it (tests/kubernetes/build.sh)`);
  return p;
}

/** One etcd per test process, shared by its API servers, each under its own key prefix. */
interface SharedEtcd {
  url: string;
  users: number;
  stop(): Promise<void>;
}
let etcd: Promise<SharedEtcd> | undefined;

async function startEtcd(): Promise<SharedEtcd> {
  const [client, peer] = [await freePort(), await freePort()];
  const dir = tempDir('etcd');
  const url = `http://127.0.0.1:${client}`;
  const proc = new ManagedProcess('etcd', tool('etcd'), [
    '--name', 'test', '--data-dir', join(dir.path, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `test=http://127.0.0.1:${peer}`,
    // Test data: durability across a power cut is not what these tests are about.
    '--unsafe-no-fsync', '--log-level', 'warn',
  ]);
  await waitFor('etcd serving', async () => (await fetch(`${url}/health`)).ok, { timeoutMs: 30_000, intervalMs: 100 })
    .catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.output()}`);
    });
  return {
    url,
    users: 0,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}

async function acquireEtcd(): Promise<SharedEtcd> {
  etcd ??= startEtcd();
  const e = await etcd.catch((err: unknown) => {
    etcd = undefined;
    throw err;
  });
  e.users++;
  return e;
}

async function releaseEtcd(e: SharedEtcd): Promise<void> {
  if (--e.users > 0) return;
  etcd = undefined;
  await e.stop();
}

function kubeconfigText(name: string, server: string, ca: string, user: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': name,
    clusters: [{ name, cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name, context: { cluster: name, user, namespace: 'default' } }],
  }, null, 2);
}

export interface RealKubeOptions {
  /** A CA for the API server's serving certificate (default: a new one). */
  ca?: TestCa;
  /**
   * What is applied once the server is ready: deploy/spoke (the default), deploy/spoke-node-ports
   * (the spoke may also watch Nodes), or nothing (`none`: then `spokeKubeconfig` is the
   * administrator's too, as no spoke account exists).
   */
  manifests?: 'spoke' | 'spoke-node-ports' | 'none';
}

/**
 * A real kube-apiserver (built by tests/kubernetes/build.sh) on a free loopback port, storing in a
 * real etcd, with RBAC on. `kubeconfig` is an administrator's (system:masters); the spoke's
 * manifests (deploy/spoke, or as `manifests` says) are applied, and `spokeKubeconfig` authenticates
 * as their ServiceAccount with a token the API server issues, so the spoke has exactly the
 * manifests' rights.
 */
export async function startKubernetes(name = 'kubernetes', opts: RealKubeOptions = {}): Promise<KubeCluster> {
  const shared = await acquireEtcd();
  const dir = tempDir(`kubernetes-${name}`);
  const ownCa = opts.ca ? undefined : makeTestCa(`kubernetes-${name}`);
  const ca = opts.ca ?? (ownCa as TestCa);
  const serving = ca.server(`kube-apiserver-${name}`, ['kubernetes', 'kubernetes.default']);
  const file = (n: string, content: string): string => {
    const p = join(dir.path, n);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };
  const adminToken = randomBytes(24).toString('base64url');
  const tokens = file('tokens.csv', `${adminToken},admin,admin-uid,system:masters\n`);
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const saKey = file('sa.key', sa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const saPub = file('sa.pub', sa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const port = await freePort();
  const server = `https://127.0.0.1:${port}`;
  const proc = new ManagedProcess(`kube-apiserver/${name}`, tool('kube-apiserver'), [
    '--etcd-servers', shared.url, '--etcd-prefix', `/${name}-${randomBytes(4).toString('hex')}`,
    '--bind-address', '127.0.0.1', '--advertise-address', '127.0.0.1', '--secure-port', String(port),
    '--tls-cert-file', serving.certFile, '--tls-private-key-file', serving.keyFile, '--cert-dir', join(dir.path, 'certs'),
    '--token-auth-file', tokens, '--authorization-mode', 'RBAC',
    '--service-account-issuer', 'https://kubernetes.default.svc', '--service-account-key-file', saPub,
    '--service-account-signing-key-file', saKey,
    '--service-cluster-ip-range', '10.96.0.0/16', '--endpoint-reconciler-type', 'none',
    '--enable-priority-and-fairness=false', '--profiling=false',
  ]);
  const admin = file('kubeconfig', kubeconfigText(name, server, ca.ca, 'admin', adminToken));
  const kubectl = (args: string[], input?: string, kubeconfig = admin) => runKubectl(kubeconfig, args, input);
  const stop = async (): Promise<void> => {
    await proc.stop(10_000);
    dir.remove();
    ownCa?.remove();
    await releaseEtcd(shared);
  };
  try {
    await waitFor(`kube-apiserver ${name} ready`, async () => {
      if (!proc.running) throw new Error('kube-apiserver exited');
      return (await kubectl(['get', '--raw', '/readyz'])).code === 0;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    const cluster = { kind: 'real' as const, name, server, kubeconfig: admin, kubectl: (args: string[], input?: string) => kubectl(args, input), stop };
    if (opts.manifests === 'none') return { ...cluster, spokeKubeconfig: admin, kubectlAsSpoke: cluster.kubectl };
    const manifests = opts.manifests === 'spoke-node-ports' ? SPOKE_NODE_PORT_MANIFESTS : SPOKE_MANIFESTS;
    const applied = await kubectl(['apply', '-k', manifests]);
    if (applied.code !== 0) throw new Error(`kubectl apply -k ${manifests}: ${applied.stderr}`);
    const token = await kubectl(['create', 'token', SPOKE_ACCOUNT, '-n', SPOKE_NAMESPACE, '--duration', '24h']);
    if (token.code !== 0) throw new Error(`kubectl create token: ${token.stderr}`);
    const spokeKubeconfig = file('spoke-kubeconfig', kubeconfigText(name, server, ca.ca, `system:serviceaccount:${SPOKE_NAMESPACE}:${SPOKE_ACCOUNT}`, token.stdout.trim()));
    return { ...cluster, spokeKubeconfig, kubectlAsSpoke: (args, input) => kubectl(args, input, spokeKubeconfig) };
  } catch (err) {
    const output = proc.output();
    await stop().catch(() => undefined);
    throw new Error(`${(err as Error).message}\n${output.split('\n').slice(-30).join('\n')}`);
  }
}

/**
 * Registers a Ready Node with an InternalIP, as a kubelet would (no kubelet runs beside these API
 * servers): the address is where the Services' node ports are reached.
 */
export async function addNode(kube: KubeCluster, name: string, address: string, zone: string): Promise<void> {
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'topology.kubernetes.io/zone': zone, 'kubernetes.io/hostname': name } } };
  const created = await kube.kubectl(['create', '-f', '-'], JSON.stringify(node));
  if (created.code !== 0) throw new Error(`kubectl create node ${name}: ${created.stderr}`);
  const status = { status: { addresses: [{ type: 'InternalIP', address }, { type: 'Hostname', address: name }],
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'registered by the test harness', lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }] } };
  const patched = await kube.kubectl(['patch', 'node', name, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
  if (patched.code !== 0) throw new Error(`kubectl patch node ${name} status: ${patched.stderr}`);
}

/**
 * A real cluster whose Services are reached through node ports: deploy/spoke-node-ports applied,
 * and a Ready Node `NAME-node-N` registered at each of `nodeAddresses` (loopback: where the echo
 * fleet answers, EchoFleet.followNodePorts).
 */
export async function startNodePortCluster(name: string, zone: string, nodeAddresses: string[]): Promise<KubeCluster> {
  const kube = await startKubernetes(name, { manifests: 'spoke-node-ports' });
  try {
    for (const [i, address] of nodeAddresses.entries()) await addNode(kube, `${name}-node-${i + 1}`, address, zone);
    return kube;
  } catch (err) {
    await kube.stop().catch(() => undefined);
    throw err;
  }
}
