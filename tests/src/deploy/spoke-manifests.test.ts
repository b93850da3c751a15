import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { SPOKE_MANIFESTS, runKubectl, startKubernetes, type KubeCluster } from '../harness/index.js';

// deploy/spoke against a real kube-apiserver with RBAC on: the server accepts every manifest, and
// the ServiceAccount's rights (asked with its own token) are exactly what the spoke uses.

const ACCOUNT = 'system:serviceaccount:ingressfed-system:ingressfed-spoke';
const NODE_PORTS = `${SPOKE_MANIFESTS}-node-ports`;
const OVERLAY = join(SPOKE_MANIFESTS, '..', 'overlays', 'alpha');
const SPOKE_BIN = fileURLToPath(new URL('../../../spoke/bin/ingressfed-spoke.mjs', import.meta.url));

/** Each allowed verb on each kind (all namespaces): what the ClusterRole grants, one by one. */
const ALLOWED: string[][] = [
  ['list', 'ingresses.networking.k8s.io'], ['watch', 'ingresses.networking.k8s.io'],
  ['list', 'ingressclasses.networking.k8s.io'], ['watch', 'ingressclasses.networking.k8s.io'],
  ['update', 'ingresses.networking.k8s.io', '--subresource=status'],
  ['list', 'services'], ['watch', 'services'],
  ['list', 'endpointslices.discovery.k8s.io'], ['watch', 'endpointslices.discovery.k8s.io'],
  ['list', 'secrets'], ['watch', 'secrets'],
  ['create', 'events'],
];

/** A sample of what it must not do. */
const DENIED: string[][] = [
  ['get', 'secrets'], ['get', 'ingresses.networking.k8s.io'], ['update', 'ingresses.networking.k8s.io'], ['patch', 'ingresses.networking.k8s.io', '--subresource=status'],
  ['create', 'ingresses.networking.k8s.io'], ['delete', 'services'], ['create', 'services'], ['update', 'endpointslices.discovery.k8s.io'],
  ['list', 'pods'], ['list', 'configmaps'], ['list', 'nodes'], ['update', 'events'], ['delete', 'events'], ['create', 'pods', '--subresource=exec'],
  ['impersonate', 'users'], ['create', 'serviceaccounts', '--subresource=token'], ['escalate', 'clusterroles.rbac.authorization.k8s.io'],
  ['bind', 'clusterroles.rbac.authorization.k8s.io'], ['list', 'leases.coordination.k8s.io'], ['create', 'tokenreviews.authentication.k8s.io'],
];

/** What every authenticated user may do (system:basic-user and the discovery roles): not the spoke's. */
const FOR_EVERYONE = new Set(['selfsubjectreviews.authentication.k8s.io', 'selfsubjectaccessreviews.authorization.k8s.io', 'selfsubjectrulesreviews.authorization.k8s.io']);

/** The spoke's resource rules, from `kubectl auth can-i --list` with its own token. */
async function rulesOf(kube: KubeCluster): Promise<string[]> {
  const r = await kube.kubectlAsSpoke(['auth', 'can-i', '--list', '--no-headers']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').map((l) => l.trim().split(/\s{2,}/)).filter((f) => f.length >= 3 && f[0] !== '' && !(f[0] as string).startsWith('[/') && !FOR_EVERYONE.has(f[0] as string))
    .map((f) => `${f[0]} ${f[f.length - 1]}`).sort();
}

describe('deploy/spoke on a real kube-apiserver: accepted as it is, and exactly the spoke\'s rights', { timeout: 120_000 }, () => {
  let kube: KubeCluster;

  before(async () => {
    kube = await startKubernetes('manifests', { manifests: 'none' });
  });

  after(async () => {
    await kube?.stop();
  });

  it('kubectl apply -k deploy/spoke --dry-run=server succeeds and creates nothing (and so does deploy/spoke-node-ports)', async () => {
    // A server-side dry run validates namespaced objects in their namespace, which must exist.
    const ns = await kube.kubectl(['apply', '-f', join(SPOKE_MANIFESTS, 'namespace.yaml')]);
    assert.equal(ns.code, 0, ns.stderr);
    for (const dir of [SPOKE_MANIFESTS, NODE_PORTS]) {
      const r = await kube.kubectl(['apply', '-k', dir, '--dry-run=server']);
      assert.equal(r.code, 0, r.stderr);
      const made = ['serviceaccount/ingressfed-spoke', 'clusterrole.rbac.authorization.k8s.io/ingressfed-spoke', 'clusterrolebinding.rbac.authorization.k8s.io/ingressfed-spoke',
        'configmap/ingressfed-spoke', 'configmap/ingressfed-hub-sealing-key', 'secret/ingressfed-spoke-nats', 'deployment.apps/ingressfed-spoke',
        ...(dir === NODE_PORTS ? ['clusterrole.rbac.authorization.k8s.io/ingressfed-spoke-nodes', 'clusterrolebinding.rbac.authorization.k8s.io/ingressfed-spoke-nodes'] : [])];
      for (const what of made) assert.match(r.stdout, new RegExp(`^${what.replace(/\./g, '\\.')} created \\(server dry run\\)$`, 'm'), r.stdout);
      assert.equal(r.stdout.trim().split('\n').length, made.length + 1, r.stdout);
    }
    for (const what of ['serviceaccount/ingressfed-spoke', 'deployment/ingressfed-spoke', 'secret/ingressfed-spoke-nats']) {
      assert.equal((await kube.kubectl(['get', what, '-n', 'ingressfed-system'])).code, 1, `a dry run creates nothing: ${what}`);
    }
    assert.equal((await kube.kubectl(['get', 'clusterrole', 'ingressfed-spoke'])).code, 1);
  });

  it('the example overlay (deploy/overlays/alpha) sets the cluster\'s settings, credentials and image, and the server accepts it', async () => {
    const r = await kube.kubectl(['apply', '-k', OVERLAY, '--dry-run=server', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const items = (JSON.parse(r.stdout) as { items: Array<{ kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: { template: { spec: { containers: Array<{ image: string }> } } } }> }).items;
    const find = (kind: string, name: string) => items.find((i) => i.kind === kind && i.metadata.name === name);
    assert.equal(find('ConfigMap', 'ingressfed-spoke')?.data?.INGRESSFED_CLUSTER, 'alpha');
    assert.equal(find('ConfigMap', 'ingressfed-spoke')?.data?.INGRESSFED_WATCH_NODES, 'true');
    assert.deepEqual(Object.keys(find('Secret', 'ingressfed-spoke-nats')?.data ?? {}).sort(), ['ca.crt', 'password', 'user']);
    assert.equal(find('Deployment', 'ingressfed-spoke')?.spec?.template.spec.containers[0]?.image, 'registry.example.com/ingressfed/spoke:0.1.0');
  });

  it('every INGRESSFED_ variable the manifests set names an option of ingressfed-spoke', async () => {
    const rendered = await runKubectl(kube.kubeconfig, ['kustomize', OVERLAY]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const names = new Set([...rendered.stdout.matchAll(/\b(INGRESSFED_[A-Z_]+)\b/g)].map((m) => m[1] as string));
    assert.ok(names.size >= 8, [...names].join(' '));
    const usage = execFileSync(process.execPath, [SPOKE_BIN, '--help'], { encoding: 'utf8' });
    for (const name of names) {
      const flag = `--${name.slice('INGRESSFED_'.length).toLowerCase().replace(/_/g, '-')}`;
      assert.ok(new RegExp(`^  ${flag} `, 'm').test(usage) || usage.includes(`also ${name}`), `${name}: no option ${flag}`);
    }
  });

  it('the applied Deployment carries the probes, the resources and a restricted securityContext, as the server stored it', async () => {
    const r = await kube.kubectl(['apply', '-k', SPOKE_MANIFESTS]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse((await kube.kubectl(['get', 'deployment', 'ingressfed-spoke', '-n', 'ingressfed-system', '-o', 'json'])).stdout) as {
      spec: { template: { spec: { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Array<Record<string, unknown> & { securityContext: Record<string, unknown>; resources: Record<string, unknown> }> } } };
    };
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    assert.ok(c);
    assert.equal(pod.serviceAccountName, 'ingressfed-spoke');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual((c.livenessProbe as { httpGet: { path: string } }).httpGet.path, '/healthz');
    assert.deepEqual((c.readinessProbe as { httpGet: { path: string } }).httpGet.path, '/readyz');
    assert.ok(c.resources.requests && c.resources.limits);
    // The namespace enforces the restricted Pod Security Standard: the server would refuse a Pod breaking it.
    const ns = JSON.parse((await kube.kubectl(['get', 'namespace', 'ingressfed-system', '-o', 'json'])).stdout) as { metadata: { labels: Record<string, string> } };
    assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('kubectl auth can-i, with the ServiceAccount\'s own token: yes to each verb the spoke uses, no to the others', async () => {
    const token = await kube.kubectl(['create', 'token', 'ingressfed-spoke', '-n', 'ingressfed-system']);
    assert.equal(token.code, 0, token.stderr);
    const asSpoke = async (args: string[]): Promise<string> => {
      const r = await runKubectl(kube.kubeconfig, ['auth', 'can-i', ...args, '--all-namespaces', `--token=${token.stdout.trim()}`]);
      return r.stdout.trim();
    };
    for (const a of ALLOWED) assert.equal(await asSpoke(a), 'yes', `can-i ${a.join(' ')}`);
    for (const d of DENIED) assert.equal(await asSpoke(d), 'no', `can-i ${d.join(' ')}`);
    // The same answers through impersonation, as an operator would check them.
    const impersonated = await kube.kubectl(['auth', 'can-i', 'update', 'ingresses.networking.k8s.io', '--subresource=status', '-A', `--as=${ACCOUNT}`]);
    assert.equal(impersonated.stdout.trim(), 'yes');
  });

  it('kubectl auth can-i --list: the ClusterRole\'s rules and nothing more; with node-ports, Nodes list and watch too', async () => {
    const spoke = await startKubernetes('manifests-rules');
    try {
      assert.deepEqual(await rulesOf(spoke), [
        'endpointslices.discovery.k8s.io [list watch]', 'events [create]', 'ingressclasses.networking.k8s.io [list watch]',
        'ingresses.networking.k8s.io/status [update]', 'ingresses.networking.k8s.io [list watch]', 'secrets [list watch]', 'services [list watch]',
      ].sort());
    } finally {
      await spoke.stop();
    }
    const withNodes = await startKubernetes('manifests-nodes', { manifests: 'spoke-node-ports' });
    try {
      const rules = await rulesOf(withNodes);
      assert.ok(rules.includes('nodes [list watch]'), rules.join('\n'));
      assert.equal(rules.length, 8);
      assert.equal((await withNodes.kubectlAsSpoke(['auth', 'can-i', 'get', 'nodes'])).stdout.trim(), 'no');
    } finally {
      await withNodes.stop();
    }
  });
});
