import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validators } from '@ingressfed/schemas';
import { ingress, snapshot } from '../model/fixtures.js';
import { mergeClusters } from '../model/merge.js';
import { computeStatuses, type EdgeProgress } from './status.js';

const edge = (name: string, publicAddress: string, live: boolean, problem?: string): EdgeProgress => ({ name, publicAddress, live: () => live, problem });

describe('status: what each Ingress reports in its own cluster', () => {
  const snaps = [
    snapshot('a', 'za', { ingresses: [ingress('a', 'ok', [{ host: 'ok.x.com', service: 's' }]), ingress('a', 'bad', [{ host: 'Bad.x.com', service: 's' }])] }),
    snapshot('b', 'zb', { ingresses: [ingress('b', 'late', [{ host: 'ok.x.com', service: 't' }], { created: '2027-01-01T00:00:00Z' })] }),
  ];

  it('gives accepted Ingresses the edges\' addresses and refused ones the reasons, all schema-valid', () => {
    const st = computeStatuses(mergeClusters(snaps), snaps.flatMap((s) => s.ingresses), [edge('e1', '127.0.0.1', true), edge('e2', 'edge.example.com', true), edge('e3', '127.0.0.1', true)]);
    const ok = st.get('a.ingress.default.ok');
    assert.deepEqual(ok?.addresses, [{ ip: '127.0.0.1' }, { hostname: 'edge.example.com' }]);
    assert.deepEqual(ok?.conditions.map((c) => `${c.type}=${c.status}`), ['Accepted=True']);
    const bad = st.get('a.ingress.default.bad');
    assert.deepEqual(bad?.addresses, []);
    assert.match(bad?.conditions.find((c) => c.type === 'Invalid')?.message ?? '', /must be lowercase/);
    const late = st.get('b.ingress.default.late');
    assert.deepEqual(late?.addresses, [], 'every route of it is owned by an older Ingress');
    assert.match(late?.conditions.find((c) => c.type === 'Conflicted')?.message ?? '', /served by a\/default\/ok/);
    for (const rec of st.values()) assert.ok(validators.status.Check(rec));
  });

  it('keeps the status object of an Ingress whose inputs did not change, and recomputes the one whose edge did', () => {
    const model = mergeClusters(snaps);
    const ings = snaps.flatMap((s) => s.ingresses);
    const memo = new Map();
    let okLive = false;
    const edges: EdgeProgress[] = [{ name: 'e1', publicAddress: '127.0.0.1', live: (key) => key !== 'a/default/ok' || okLive, problem: undefined }];
    const first = computeStatuses(model, ings, edges, new Map(), memo);
    okLive = true;
    const second = computeStatuses(model, ings, edges, new Map(), memo);
    assert.equal(second.get('a.ingress.default.bad'), first.get('a.ingress.default.bad'), 'unchanged inputs, the same object');
    assert.notEqual(second.get('a.ingress.default.ok'), first.get('a.ingress.default.ok'));
    assert.deepEqual(second.get('a.ingress.default.ok')?.conditions.map((c) => `${c.type}=${c.status}`), ['Accepted=True']);
    assert.deepEqual(second, computeStatuses(model, ings, edges), 'the memo changes nothing in the result');
  });

  it('reports an Ingress served only by the edges that have it live, and says why the others do not', () => {
    const st = computeStatuses(mergeClusters(snaps), snaps.flatMap((s) => s.ingresses), [edge('e1', '127.0.0.1', true), edge('e2', '127.0.0.2', false, 'HAProxy refused the configuration')]);
    const ok = st.get('a.ingress.default.ok');
    assert.deepEqual(ok?.addresses, [{ ip: '127.0.0.1' }]);
    assert.match(ok?.conditions.find((c) => c.type === 'Accepted')?.message ?? '', /live on 1 of 2 edges/);
    const deg = ok?.conditions.find((c) => c.type === 'Degraded');
    assert.equal(deg?.reason, 'EdgeNotProgrammed');
    assert.match(deg?.message ?? '', /not live on edge e2: HAProxy refused/);
    for (const rec of st.values()) assert.ok(validators.status.Check(rec));
  });

  it('reports no address and Accepted=False while no edge has the Ingress live', () => {
    const st = computeStatuses(mergeClusters(snaps), snaps.flatMap((s) => s.ingresses), [edge('e1', '127.0.0.1', false)]);
    const ok = st.get('a.ingress.default.ok');
    assert.deepEqual(ok?.addresses, []);
    assert.deepEqual(ok?.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`), ['Accepted=False:Pending']);
  });
});
