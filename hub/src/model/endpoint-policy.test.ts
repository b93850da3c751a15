import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointPolicy, cidrProblem } from './endpoint-policy.js';

describe('endpoint policy', () => {
  const policy = new EndpointPolicy({ edgeAddresses: ['192.0.2.10'], allowedCidrs: { alpha: ['127.0.10.0/24', 'fe80::/10'], '*': ['169.254.7.0/24'] } });

  it('refuses loopback, unspecified, link-local (metadata), multicast, broadcast and the edges\' addresses by default', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '0.0.0.0', '169.254.169.254', '224.0.0.1', '239.1.1.1', '255.255.255.255', '::1', '::', 'fe80::1', 'ff02::1',
      '::ffff:127.0.0.1', '::ffff:169.254.169.254', '192.0.2.10', '::ffff:192.0.2.10']) {
      assert.notEqual(policy.problem('beta', a), undefined, a);
    }
    assert.match(policy.problem('beta', '169.254.169.254') ?? '', /link-local/);
    assert.match(policy.problem('alpha', '192.0.2.10') ?? '', /address of an edge/);
  });

  it('accepts ordinary pod addresses', () => {
    for (const a of ['10.0.0.1', '172.16.5.4', '192.168.1.1', '100.64.0.1', 'fd00::1', '2001:db8::1']) assert.equal(policy.problem('beta', a), undefined, a);
  });

  it('lets an operator allow CIDRs per cluster or for every cluster, never an edge\'s address', () => {
    assert.equal(policy.problem('alpha', '127.0.10.5'), undefined);
    assert.notEqual(policy.problem('beta', '127.0.10.5'), undefined, 'allowed for alpha only');
    assert.notEqual(policy.problem('alpha', '127.0.11.5'), undefined, 'outside the allowed CIDR');
    assert.equal(policy.problem('alpha', 'fe80::7'), undefined);
    assert.equal(policy.problem('beta', '169.254.7.9'), undefined, '* applies to every cluster');
    assert.notEqual(new EndpointPolicy({ edgeAddresses: ['127.0.0.1'], allowedCidrs: { '*': ['127.0.0.0/8'] } }).problem('a', '127.0.0.1'), undefined);
  });

  it('explains a CIDR it cannot read', () => {
    for (const c of ['10.0.0.0/33', 'x/8', '10.0.0.0/', 'fd00::/129', '10.0.0.0/8/1']) assert.match(cidrProblem([c]) ?? 'accepted', /is not a CIDR/, c);
    assert.equal(cidrProblem(['10.0.0.0/8', 'fd00::/8', '10.1.2.3']), undefined);
  });
});
