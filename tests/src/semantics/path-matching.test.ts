import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFederation, waitFor, type Federation } from '../harness/index.js';
import { ingress, ingressClass, type IngressPath } from '../kube/manifests.js';
import { create, nodePortService, whoAnswers } from './fixtures.js';

// The path-matching examples of the Kubernetes Ingress documentation, row by row, through HAProxy.
// Each path of a row points to its own Service; '404' means the default backend (none here).

interface Row {
  paths: Array<[string, 'Exact' | 'Prefix' | 'ImplementationSpecific']>;
  requests: Array<[string, string]>; // request path → the path that must serve it, or '404'
}

const ROWS: Row[] = [
  { paths: [['/', 'Prefix']], requests: [['/', '/'], ['/anything/at/all', '/']] },
  { paths: [['/foo', 'Exact']], requests: [['/foo', '/foo'], ['/bar', '404'], ['/foo/', '404']] },
  { paths: [['/foo/', 'Exact']], requests: [['/foo', '404'], ['/foo/', '/foo/']] },
  { paths: [['/foo', 'Prefix']], requests: [['/foo', '/foo'], ['/foo/', '/foo']] },
  { paths: [['/foo/', 'Prefix']], requests: [['/foo', '/foo/'], ['/foo/', '/foo/']] },
  { paths: [['/aaa/bb', 'Prefix']], requests: [['/aaa/bbb', '404']] },
  { paths: [['/aaa/bbb', 'Prefix']], requests: [['/aaa/bbb', '/aaa/bbb'], ['/aaa/bbb/', '/aaa/bbb'], ['/aaa/bbb/ccc', '/aaa/bbb'], ['/aaa/bbbxyz', '404']] },
  { paths: [['/aaa/bbb/', 'Prefix']], requests: [['/aaa/bbb', '/aaa/bbb/']] },
  { paths: [['/', 'Prefix'], ['/aaa', 'Prefix']], requests: [['/aaa/ccc', '/aaa']] },
  { paths: [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], requests: [['/aaa/bbb', '/aaa/bbb'], ['/ccc', '/']] },
  { paths: [['/aaa', 'Prefix']], requests: [['/ccc', '404']] },
  { paths: [['/foo', 'Prefix'], ['/foo', 'Exact']], requests: [['/foo', '/foo Exact'], ['/foo/x', '/foo']] },
  { paths: [['/foo', 'ImplementationSpecific']], requests: [['/foo/bar', '/foo'], ['/foobar', '404']] },
];

const hostOf = (row: number): string => `row${row}.paths.example.test`;
const svcOf = (row: number, i: number): string => `r${row}-p${i}`;

describe('semantics: the Kubernetes path-matching table, through HAProxy', { timeout: 180_000 }, () => {
  let fed: Federation;
  let edge: string;

  before(async () => {
    fed = await startFederation({ kube: 'real', clusters: [{ name: 'alpha', zone: 'zone-a' }] });
    edge = fed.edges[0]?.url as string;
    const docs = [ingressClass()];
    ROWS.forEach((row, r) => {
      const paths: IngressPath[] = row.paths.map(([path, pathType], i) => {
        docs.push(nodePortService(svcOf(r, i)));
        return { path, pathType, service: svcOf(r, i) };
      });
      docs.push(ingress(`row${r}`, [{ host: hostOf(r), paths }]));
    });
    await create(fed, 'alpha', docs);
    await waitFor('every row routed', async () => {
      for (let r = 0; r < ROWS.length; r++) if ((await whoAnswers(edge, hostOf(r), ROWS[r]?.requests[0]?.[0] ?? '/')) === '503') return false;
      return fed.hub.currentModel()?.routes.length === ROWS.reduce((n, row) => n + row.paths.length, 0);
    }, { timeoutMs: 20_000 });
    await fed.hub.idle();
    await fed.echo.settled();
  });

  after(async () => {
    await fed?.stop();
  });

  ROWS.forEach((row, r) => {
    const label = row.paths.map(([p, t]) => `${t} ${p}`).join(', ');
    for (const [request, expected] of row.requests) {
      it(`B6: ${label}: request ${request} → ${expected === '404' ? 'no match (404)' : expected}`, async () => {
        const i = row.paths.findIndex(([p, t]) => expected === p || expected === `${p} ${t}`);
        const want = expected === '404' ? '404' : svcOf(r, i);
        assert.equal(await whoAnswers(edge, hostOf(r), request), want);
      });
    }
  });
});

describe('semantics: the Kubernetes host wildcard table, through HAProxy', { timeout: 120_000 }, () => {
  let fed: Federation;
  let edge: string;

  before(async () => {
    fed = await startFederation({ kube: 'real', clusters: [{ name: 'alpha', zone: 'zone-a' }] });
    edge = fed.edges[0]?.url as string;
    await create(fed, 'alpha', [ingressClass(), nodePortService('wild'), nodePortService('exact'),
      ingress('wild', [{ host: '*.foo.com', paths: [{ path: '/', service: 'wild' }] }]),
      ingress('exact', [{ host: 'exact.foo.com', paths: [{ path: '/only', service: 'exact' }] }])]);
    await waitFor('the wildcard route', async () => (await whoAnswers(edge, 'bar.foo.com', '/')) === 'wild', { timeoutMs: 20_000 });
    await waitFor('the exact route', async () => (await whoAnswers(edge, 'exact.foo.com', '/only')) === 'exact', { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  const cases: Array<[string, string, string]> = [
    ['bar.foo.com', '/', 'wild'],
    ['BAR.Foo.com:8080', '/', 'wild'],
    ['baz.bar.foo.com', '/', '404'],
    ['foo.com', '/', '404'],
    ['evilfoo.com', '/', '404'],
    ['exact.foo.com', '/only', 'exact'],
    ['exact.foo.com', '/other', '404'],
  ];
  for (const [host, path, want] of cases) {
    it(`B3: *.foo.com with Host ${host}${path} → ${want}`, async () => {
      assert.equal(await whoAnswers(edge, host, path), want);
    });
  }
});

describe('semantics: path precedence across Ingresses of two clusters sharing a host', { timeout: 120_000 }, () => {
  let fed: Federation;
  let edge: string;

  before(async () => {
    fed = await startFederation({ kube: 'real', clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }] });
    edge = fed.edges[0]?.url as string;
    await create(fed, 'alpha', [ingressClass(), nodePortService('root'), nodePortService('aaa'), nodePortService('foo-prefix'),
      ingress('shared-a', [{ host: 'shared.example.test', paths: [{ path: '/', service: 'root' }, { path: '/aaa', service: 'aaa' }, { path: '/foo', service: 'foo-prefix' }] }])]);
    await create(fed, 'beta', [ingressClass(), nodePortService('aaa-bbb'), nodePortService('foo-exact'),
      ingress('shared-b', [{ host: 'shared.example.test', paths: [{ path: '/aaa/bbb', service: 'aaa-bbb' }, { path: '/foo', pathType: 'Exact', service: 'foo-exact' }] }])]);
    await waitFor('both clusters\' routes', async () => (await whoAnswers(edge, 'shared.example.test', '/aaa/bbb')) === 'aaa-bbb' &&
      (await whoAnswers(edge, 'shared.example.test', '/foo')) === 'foo-exact', { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  const cases: Array<[string, string]> = [
    ['/aaa/bbb', 'aaa-bbb'], ['/aaa/bbb/ccc', 'aaa-bbb'], ['/aaa/ccc', 'aaa'], ['/ccc', 'root'], ['/foo', 'foo-exact'], ['/foo/x', 'foo-prefix'],
  ];
  for (const [path, want] of cases) {
    it(`${path} → ${want}`, async () => {
      assert.equal(await whoAnswers(edge, 'shared.example.test', path), want);
    });
  }
});
