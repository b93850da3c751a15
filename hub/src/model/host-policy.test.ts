import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ingress, service, snapshot } from './fixtures.js';
import { HostPolicy, hostPolicyProblems } from './host-policy.js';
import { mergeClusters } from './merge.js';

describe('host policy', () => {
  const policy = new HostPolicy([
    { hosts: ['api.example.com'], clusters: ['alpha'], namespaces: ['team-a'] },
    { hosts: ['*.shop.example.com'], clusters: ['beta', 'gamma'] },
    { hosts: ['*'], clusters: ['alpha'] },
  ]);

  it('lets only the clusters (and namespaces) of the most specific rule serve a host', () => {
    assert.equal(policy.problem('api.example.com', 'alpha', 'team-a'), undefined);
    assert.match(policy.problem('api.example.com', 'alpha', 'default') ?? '', /may be served only by cluster alpha \(namespace team-a\): hostPolicy 'api\.example\.com'/);
    assert.match(policy.problem('api.example.com', 'beta', 'team-a') ?? '', /only by cluster alpha/);
    for (const host of ['a.shop.example.com', 'a.b.shop.example.com', '*.shop.example.com']) {
      assert.equal(policy.problem(host, 'gamma', 'x'), undefined, host);
      assert.match(policy.problem(host, 'alpha', 'x') ?? '', /only by clusters beta, gamma: hostPolicy '\*\.shop\.example\.com'/, host);
    }
    // The domain itself is not under `*.shop.example.com`; hosts no rule covers are open.
    assert.equal(policy.problem('shop.example.com', 'alpha', 'x'), undefined);
    assert.equal(policy.problem('other.example.com', 'delta', 'x'), undefined);
    // Rules without a host and default backends answer for every host: `*`.
    assert.match(policy.problem('', 'beta', 'x') ?? '', /rules without a host and default backends may be served only by cluster alpha/);
    assert.equal(policy.problem('', 'alpha', 'x'), undefined);
  });

  it('refuses, in the merge, an older Ingress and a longer path of a cluster outside the policy', () => {
    const hosts = new HostPolicy([{ hosts: ['shop.example.com'], clusters: ['beta'] }]);
    const alpha = snapshot('alpha', 'zone-a', {
      services: [service('alpha', 'web')],
      ingresses: [ingress('alpha', 'grab', [{ host: 'shop.example.com', path: '/', service: 'web' }, { host: 'shop.example.com', path: '/cart', service: 'web' }], { created: '2020-01-01T00:00:00Z' })],
    });
    const beta = snapshot('beta', 'zone-b', {
      services: [service('beta', 'web')],
      ingresses: [ingress('beta', 'shop', [{ host: 'shop.example.com', path: '/', service: 'web' }], { created: '2026-01-01T00:00:00Z' })],
    });
    const open = mergeClusters([alpha, beta]);
    assert.equal(open.routes.find((r) => r.path === '/')?.sources[0]?.cluster, 'alpha', 'without a policy the oldest wins');
    const m = mergeClusters([alpha, beta], { hostPolicy: hosts });
    assert.deepEqual(m.routes.map((r) => [r.host, r.path, r.sources.map((s) => s.cluster)]), [['shop.example.com', '/', ['beta']]]);
    const grab = m.ingresses.get('alpha/default/grab');
    assert.equal(grab?.state, 'invalid');
    assert.match(grab?.reasons?.join('\n') ?? '', /spec\.rules\[0\]\.host: host 'shop\.example\.com' may be served only by cluster beta/);
    assert.equal(m.ingresses.get('beta/default/shop')?.state, 'accepted');
  });

  it('reports every problem of a policy with its place', () => {
    assert.deepEqual(hostPolicyProblems([
      { hosts: ['api.example.com', 'Bad..host'], clusters: ['alpha'] },
      { hosts: ['api.example.com'], clusters: [] },
      { hosts: ['*'], clusters: ['Alpha'], namespaces: ['team_a'] },
    ]).map((p) => p.replace(/'Bad\.\.host' .*/, "'Bad..host' …")), [
      "hostPolicy[0].hosts: 'Bad..host' …",
      "hostPolicy[1].hosts: 'api.example.com' is already covered by hostPolicy[0]",
      'hostPolicy[1].clusters: name at least one cluster',
      "hostPolicy[2].clusters: 'Alpha' is not a cluster name",
      "hostPolicy[2].namespaces: 'team_a' is not a namespace name",
    ]);
  });
});
