import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validators } from '@ingressfed/schemas';
import { ingress, snapshot } from '../model/fixtures.js';
import { mergeClusters } from '../model/merge.js';
import { computeStatuses } from './status.js';

describe('status: what each Ingress reports in its own cluster', () => {
  it('gives accepted Ingresses the edges\' addresses and refused ones the reasons, all schema-valid', () => {
    const snaps = [
      snapshot('a', 'za', { ingresses: [ingress('a', 'ok', [{ host: 'ok.x.com', service: 's' }]), ingress('a', 'bad', [{ host: 'Bad.x.com', service: 's' }])] }),
      snapshot('b', 'zb', { ingresses: [ingress('b', 'late', [{ host: 'ok.x.com', service: 't' }], { created: '2027-01-01T00:00:00Z' })] }),
    ];
    const st = computeStatuses(mergeClusters(snaps), snaps, ['127.0.0.1', 'edge.example.com', '127.0.0.1']);
    const ok = st.get('a.ingress.default.ok');
    assert.deepEqual(ok?.addresses, [{ ip: '127.0.0.1' }, { hostname: 'edge.example.com' }]);
    assert.equal(ok?.conditions[0]?.type, 'Accepted');
    const bad = st.get('a.ingress.default.bad');
    assert.deepEqual(bad?.addresses, []);
    assert.match(bad?.conditions.find((c) => c.type === 'Invalid')?.message ?? '', /must be lowercase/);
    const late = st.get('b.ingress.default.late');
    assert.deepEqual(late?.addresses, [], 'every route of it is owned by an older Ingress');
    assert.match(late?.conditions.find((c) => c.type === 'Conflicted')?.message ?? '', /served by a\/default\/ok/);
    for (const rec of st.values()) assert.ok(validators.status.Check(rec));
  });
});
