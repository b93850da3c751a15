import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpRequest, startFederation, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { ingress, ingressClass } from '../kube/manifests.js';
import { create, nodePortService, whoAnswers } from './fixtures.js';

// Requests of every method reach the backend unchanged (path, query, headers, body), with the
// standard forwarding headers added.

describe('semantics: requests are forwarded unchanged, with forwarding headers', { timeout: 120_000 }, () => {
  let fed: Federation;
  let edge: string;

  before(async () => {
    fed = await startFederation({ kube: 'real', clusters: [{ name: 'alpha', zone: 'zone-a' }] });
    edge = fed.edges[0]?.url as string;
    await create(fed, 'alpha', [ingressClass(), nodePortService('echo'),
      ingress('echo', [{ host: 'echo.example.test', paths: [{ path: '/', service: 'echo' }] }])]);
    await waitFor('the route', async () => (await whoAnswers(edge, 'echo.example.test', '/')) === 'echo', { timeoutMs: 20_000 });
  });

  after(async () => {
    await fed?.stop();
  });

  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    it(`${method}: method, path, query, headers and body arrive unchanged`, async () => {
      const body = method === 'GET' || method === 'OPTIONS' ? undefined : JSON.stringify({ n: 1, text: 'héllo' });
      // A path already in normal form: the edge normalises the others (faults/b07-path-normalisation.test.ts).
      const r = await httpRequest(`${edge}/a/b%20c/~user?x=1&y=%2F&x=2`, {
        host: 'echo.example.test', method, body,
        headers: { 'X-Custom': 'kept as is', Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
      });
      assert.equal(r.status, 200);
      const j = r.json<EchoReply>();
      assert.equal(j.method, method);
      assert.equal(j.path, '/a/b%20c/~user?x=1&y=%2F&x=2');
      assert.equal(j.headers['x-custom'], 'kept as is');
      assert.equal(j.headers.accept, 'application/json');
      assert.equal(j.body, body ?? '');
    });
  }

  it('HEAD is answered without a body', async () => {
    const r = await httpRequest(`${edge}/x`, { host: 'echo.example.test', method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
  });

  it('adds X-Forwarded-For, -Proto, -Host and -Port, replacing client-sent -Proto and -Host', async () => {
    const r = await httpRequest(`${edge}/`, { host: 'echo.example.test', headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example' } });
    const h = r.json<EchoReply>().headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'echo.example.test');
    assert.equal(h['x-forwarded-port'], new URL(edge).port);
  });
});
