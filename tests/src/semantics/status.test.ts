import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFederation, waitFor, type Federation } from '../harness/index.js';
import { ingress, ingressClass } from '../kube/manifests.js';
import { create, nodePortService, whoAnswers } from './fixtures.js';

// Status and Events in each Ingress's own cluster, and IngressClass selection.

interface KubeEvent { involvedObject: { name: string }; reason: string; message: string; type: string }

describe('semantics: Ingress status, Events and classes', { timeout: 180_000 }, () => {
  let fed: Federation;
  let edge: string;
  const kubectl = (cluster: string, args: string[], input?: string): Promise<string> => fed.kubectl(cluster, args, input);
  const events = async (cluster: string, name: string): Promise<KubeEvent[]> =>
    (JSON.parse(await kubectl(cluster, ['get', 'events', '-o', 'json'])) as { items: KubeEvent[] }).items.filter((e) => e.involvedObject.name === name);
  const addresses = (cluster: string, name: string): Promise<string> =>
    kubectl(cluster, ['get', 'ingress', name, '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}']);

  before(async () => {
    fed = await startFederation({ kube: 'real', clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }] });
    edge = fed.edges[0]?.url as string;
    await create(fed, 'alpha', [ingressClass(), nodePortService('good'), nodePortService('c-a'),
      nodePortService('fallback')]);
    await create(fed, 'beta', [ingressClass(), nodePortService('c-b'), nodePortService('good')]);
  });

  after(async () => {
    await fed?.stop();
  });

  it('sets .status.loadBalancer.ingress of an accepted Ingress to the edges\' addresses, with an Accepted event', async () => {
    await create(fed, 'alpha', [ingress('good', [{ host: 'good.example.test', paths: [{ path: '/', service: 'good' }] }])]);
    await waitFor('the status address', async () => (await addresses('alpha', 'good')) === '127.0.0.1', { timeoutMs: 10_000 });
    await waitFor('the Accepted event', async () => (await events('alpha', 'good')).some((e) => e.reason === 'Accepted' && e.type === 'Normal'));
    assert.equal(await whoAnswers(edge, 'good.example.test', '/'), 'good');
  });

  it('B15: refuses an Ingress with an unsupported annotation: a Warning event with the reason, no address, others unaffected', async () => {
    await create(fed, 'alpha', [ingress('snippet', [{ host: 'snippet.example.test', paths: [{ path: '/', service: 'good' }] }], {
      annotations: { 'ingressfed.io/configuration-snippet': 'http-request deny' },
    })]);
    const ev = await waitFor('the Invalid event', async () => (await events('alpha', 'snippet')).find((e) => e.reason === 'InvalidSpec'), { timeoutMs: 10_000 });
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /unsupported annotation 'ingressfed\.io\/configuration-snippet'/);
    assert.equal(await addresses('alpha', 'snippet'), '');
    assert.equal(await whoAnswers(edge, 'snippet.example.test', '/'), '404');
    assert.equal(await whoAnswers(edge, 'good.example.test', '/'), 'good');
  });

  it('B14: gives the younger of two conflicting Ingresses a RouteConflict event; the older keeps the traffic', async () => {
    await create(fed, 'alpha', [ingress('owner', [{ host: 'c.example.test', paths: [{ path: '/', service: 'c-a' }] }])]);
    await waitFor('the owner route', async () => (await whoAnswers(edge, 'c.example.test', '/')) === 'c-a', { timeoutMs: 10_000 });
    await create(fed, 'beta', [ingress('late', [{ host: 'c.example.test', paths: [{ path: '/', service: 'c-b' }] }])]);
    const ev = await waitFor('the conflict event', async () => (await events('beta', 'late')).find((e) => e.reason === 'RouteConflict'), { timeoutMs: 10_000 });
    assert.match(ev.message, /served by alpha\/default\/owner, which is older/);
    assert.equal(await addresses('beta', 'late'), '');
    for (let i = 0; i < 5; i++) assert.equal(await whoAnswers(edge, 'c.example.test', '/'), 'c-a');
  });

  it('an Ingress created without a class gets the newest default class from the API server\'s admission, and is served', async () => {
    await create(fed, 'beta', [ingressClass('ingressfed-second', true), ingress('noclass', [{ host: 'noclass.example.test', paths: [{ path: '/', service: 'good' }] }], { className: null })]);
    assert.equal(await kubectl('beta', ['get', 'ingress', 'noclass', '-o', 'jsonpath={.spec.ingressClassName}']), 'ingressfed-second');
    await waitFor('the route', async () => (await whoAnswers(edge, 'noclass.example.test', '/')) === 'good', { timeoutMs: 10_000 });
  });

  it('refuses an Ingress left without a class while its cluster has two default classes, as Kubernetes does', async () => {
    // Admission defaults the class on create only: an update may leave it out.
    await kubectl('beta', ['replace', '-f', '-'], ingress('noclass', [{ host: 'noclass.example.test', paths: [{ path: '/', service: 'good' }] }], { className: null }));
    const ev = await waitFor('the Invalid event', async () => (await events('beta', 'noclass')).find((e) => e.reason === 'InvalidSpec'), { timeoutMs: 10_000 });
    assert.match(ev.message, /2 default IngressClasses \(ingressfed, ingressfed-second\)/);
    await waitFor('no route', async () => (await whoAnswers(edge, 'noclass.example.test', '/')) === '404', { timeoutMs: 10_000 });
  });

  it('ignores Ingresses of another controller\'s class: no route, no status, no event', async () => {
    await create(fed, 'alpha', [JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } }),
      ingress('theirs', [{ host: 'theirs.example.test', paths: [{ path: '/', service: 'good' }] }], { className: 'nginx' })]);
    await create(fed, 'alpha', [ingress('marker', [{ host: 'marker.example.test', paths: [{ path: '/', service: 'good' }] }])]);
    await waitFor('a later Ingress served', async () => (await whoAnswers(edge, 'marker.example.test', '/')) === 'good', { timeoutMs: 10_000 });
    await fed.hub.idle();
    assert.equal(await whoAnswers(edge, 'theirs.example.test', '/'), '404');
    assert.equal(await addresses('alpha', 'theirs'), '');
    assert.deepEqual(await events('alpha', 'theirs'), []);
  });

  it('sends unmatched requests to the class-level default backend when no Ingress has one', async () => {
    assert.equal(await whoAnswers(edge, 'unknown.example.test', '/'), '404');
    const cls = JSON.parse(ingressClass()) as { metadata: { annotations: Record<string, string> } };
    cls.metadata.annotations['ingressfed.io/default-backend'] = 'default/fallback:80';
    await kubectl('alpha', ['replace', '-f', '-'], JSON.stringify(cls));
    await waitFor('the class default backend', async () => (await whoAnswers(edge, 'unknown.example.test', '/')) === 'fallback', { timeoutMs: 10_000 });
    assert.equal(await whoAnswers(edge, 'good.example.test', '/'), 'good');
  });
});
