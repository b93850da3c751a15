import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFederation, waitFor, type Federation } from '../harness/index.js';
import { ingress, ingressClass } from '../kube/manifests.js';
import { create, remove, whoAnswers } from './fixtures.js';

// The example Ingresses of the Kubernetes Ingress documentation, each applied alone, in one cluster
// and split across two clusters; requests through HAProxy must land where the documentation says.

interface Example {
  name: string;
  /** Per cluster, the Ingresses (as manifests) that make up the example. */
  parts: (split: boolean) => Array<{ cluster: string; docs: string[]; names: string[] }>;
  expect: Array<[string, string, string]>; // host, path, service (or '404')
}

const SERVICES = ['test', 'service1', 'service2', 'service3'];

/**
 * A NodePort Service exposing ports 80, 4200 and 8080 (the examples use all three), each reached on
 * the cluster's Node through its own node port, where the echo fleet answers naming the service.
 */
function multiPortService(name: string): string {
  const ports = [['http', 80], ['p4200', 4200], ['p8080', 8080]] as const;
  return JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' },
    spec: { type: 'NodePort', ports: ports.map(([n, port]) => ({ name: n, port, targetPort: 9000, protocol: 'TCP' })) } });
}

const EXAMPLES: Example[] = [
  {
    name: 'single service (spec.defaultBackend only)',
    parts: () => [{ cluster: 'alpha', names: ['test-ingress'], docs: [ingress('test-ingress', [], { defaultBackend: { service: 'test' } })] }],
    expect: [['anything.example', '/', 'test'], ['other.example', '/deep/path', 'test']],
  },
  {
    name: 'simple fanout',
    parts: (split) => split
      ? [
        { cluster: 'alpha', names: ['fanout-foo'], docs: [ingress('fanout-foo', [{ host: 'foo.bar.com', paths: [{ path: '/foo', service: 'service1', port: 4200 }] }])] },
        { cluster: 'beta', names: ['fanout-bar'], docs: [ingress('fanout-bar', [{ host: 'foo.bar.com', paths: [{ path: '/bar', service: 'service2', port: 8080 }] }])] },
      ]
      : [{ cluster: 'alpha', names: ['simple-fanout-example'], docs: [ingress('simple-fanout-example', [{ host: 'foo.bar.com', paths: [
        { path: '/foo', service: 'service1', port: 4200 }, { path: '/bar', service: 'service2', port: 8080 }] }])] }],
    expect: [['foo.bar.com', '/foo', 'service1'], ['foo.bar.com', '/bar/baz', 'service2'], ['foo.bar.com', '/other', '404'], ['bar.foo.com', '/foo', '404']],
  },
  {
    name: 'name based virtual hosting',
    parts: (split) => split
      ? [
        { cluster: 'alpha', names: ['vhost-foo'], docs: [ingress('vhost-foo', [{ host: 'foo.bar.com', paths: [{ path: '/', service: 'service1' }] }])] },
        { cluster: 'beta', names: ['vhost-bar'], docs: [ingress('vhost-bar', [{ host: 'bar.foo.com', paths: [{ path: '/', service: 'service2' }] }])] },
      ]
      : [{ cluster: 'alpha', names: ['name-virtual-host-ingress'], docs: [ingress('name-virtual-host-ingress', [
        { host: 'foo.bar.com', paths: [{ path: '/', service: 'service1' }] }, { host: 'bar.foo.com', paths: [{ path: '/', service: 'service2' }] }])] }],
    expect: [['foo.bar.com', '/', 'service1'], ['bar.foo.com', '/x', 'service2'], ['other.example', '/', '404']],
  },
  {
    name: 'name based virtual hosting with a host-less rule',
    parts: (split) => split
      ? [
        { cluster: 'alpha', names: ['nvh-first'], docs: [ingress('nvh-first', [{ host: 'first.bar.com', paths: [{ path: '/', service: 'service1' }] }])] },
        { cluster: 'beta', names: ['nvh-rest'], docs: [ingress('nvh-rest', [{ host: 'second.bar.com', paths: [{ path: '/', service: 'service2' }] }, { paths: [{ path: '/', service: 'service3' }] }])] },
      ]
      : [{ cluster: 'alpha', names: ['name-virtual-host-ingress-no-third-host'], docs: [ingress('name-virtual-host-ingress-no-third-host', [
        { host: 'first.bar.com', paths: [{ path: '/', service: 'service1' }] },
        { host: 'second.bar.com', paths: [{ path: '/', service: 'service2' }] },
        { paths: [{ path: '/', service: 'service3' }] }])] }],
    expect: [['first.bar.com', '/', 'service1'], ['second.bar.com', '/a', 'service2'], ['third.example', '/', 'service3'], ['FIRST.bar.com:80', '/', 'service1']],
  },
  {
    name: 'default backend with rules',
    parts: (split) => split
      ? [
        { cluster: 'alpha', names: ['db-default'], docs: [ingress('db-default', [], { defaultBackend: { service: 'test' } })] },
        { cluster: 'beta', names: ['db-rules'], docs: [ingress('db-rules', [{ host: 'foo.bar.com', paths: [{ path: '/icons', service: 'service1' }] }])] },
      ]
      : [{ cluster: 'alpha', names: ['ingress-default-backend'], docs: [ingress('ingress-default-backend', [{ host: 'foo.bar.com', paths: [{ path: '/icons', service: 'service1' }] }], { defaultBackend: { service: 'test' } })] }],
    expect: [['foo.bar.com', '/icons/a.png', 'service1'], ['foo.bar.com', '/other', 'test'], ['unknown.example', '/', 'test']],
  },
];

for (const split of [false, true]) {
  describe(`semantics: the documentation's example Ingresses ${split ? 'split across two clusters' : 'in one cluster'}`, { timeout: 240_000 }, () => {
    let fed: Federation;
    let edge: string;

    before(async () => {
      fed = await startFederation({ kube: 'real', clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }] });
      edge = fed.edges[0]?.url as string;
      // Each cluster runs every service; the echo reply names the service, whatever cluster answers.
      for (const c of ['alpha', 'beta']) await create(fed, c, [ingressClass(), ...SERVICES.map(multiPortService)]);
    });

    after(async () => {
      await fed?.stop();
    });

    for (const ex of EXAMPLES) {
      it(`${ex.name}`, async () => {
        const parts = ex.parts(split);
        for (const p of parts) await create(fed, p.cluster, p.docs);
        try {
          await waitFor(`${ex.name} routed`, async () => {
            for (const [host, path, want] of ex.expect) if ((await whoAnswers(edge, host, path)) !== want) return false;
            return true;
          }, { timeoutMs: 15_000 });
          for (const [host, path, want] of ex.expect) assert.equal(await whoAnswers(edge, host, path), want, `${host}${path}`);
        } finally {
          for (const p of parts) await remove(fed, p.cluster, ['ingress', ...p.names]);
          await waitFor('the example removed', async () => (await whoAnswers(edge, 'gone.example', '/')) === '404', { timeoutMs: 15_000 });
        }
      });
    }
  });
}
