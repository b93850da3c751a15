import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startFederation, waitFor, type EchoReply, type Federation } from '../harness/index.js';
import { ingress, ingressClass } from '../kube/manifests.js';
import { create, serviceWithEndpoint } from '../semantics/fixtures.js';

// B7: request paths are normalised at the edge before routing, and the backend receives the
// normalised path; encoded slashes, backslashes and NULs, raw backslashes and malformed percent
// sequences are refused with 400 (architecture.md, "Request path normalisation").

const PREFIX_HOST = 'prefix.b7.example.test';
const EXACT_HOST = 'exact.b7.example.test';

interface Answer {
  who: string;
  path?: string;
}

/** One request with the path sent byte for byte (the harness's client resolves dot segments itself). */
function rawGet(edgeUrl: string, host: string, path: string): Promise<Answer> {
  const u = new URL(edgeUrl);
  return new Promise((resolve, reject) => {
    const req = request({ hostname: u.hostname, port: u.port, path, headers: { host }, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve({ who: String(res.statusCode) });
        const reply = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EchoReply;
        resolve({ who: String(reply.service), path: reply.path });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request for ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** request path → who answers ('400', or a service) and, when served, the path the backend receives. */
type Case = [string, string, string?];

const BOTH: Case[] = [
  ['//admin', 'admin', '/admin'],
  ['/%61dmin', 'admin', '/admin'],
  ['/./admin', 'admin', '/admin'],
  ['/x/../admin', 'admin', '/admin'],
  ['/%2e%2e/admin', 'admin', '/admin'],
  ['/x/%2E%2e/admin', 'admin', '/admin'],
  ['/ADMIN', 'root', '/ADMIN'],
  ['/%2Fadmin', '400'],
  ['/%2fadmin', '400'],
  ['/x/..%2Fadmin', '400'],
  ['/%5Cadmin', '400'],
  ['/x\\..\\admin', '400'],
  ['/%00/admin', '400'],
  ['/%2%65%2%65/admin', '400'],
  ['/admin%', '400'],
  ['/admin', 'admin', '/admin'],
  ['/', 'root', '/'],
  ['/public', 'root', '/public'],
  ['/administrator', 'root', '/administrator'],
  ['/admin/../public', 'root', '/public'],
  ['/caf%c3%a9', 'root', '/caf%C3%A9'],
];

const CASES: Record<string, Case[]> = {
  [PREFIX_HOST]: [
    ...BOTH,
    ['/admin/../admin/x', 'admin', '/admin/x'],
    ['/admin/x', 'admin', '/admin/x'],
    ['/admin?next=%2F..%2Fx&q=100%', 'admin', '/admin?next=%2F..%2Fx&q=100%'],
    // A rule written with an encoded unreserved character is keyed by its normal form.
    ['/static/app.js', 'static', '/static/app.js'],
    ['/st%61tic', 'static', '/static'],
  ],
  [EXACT_HOST]: [
    ...BOTH,
    // Normalised to /admin/x, which an Exact /admin does not match.
    ['/admin/../admin/x', 'root', '/admin/x'],
    ['/admin/.', 'root', '/admin/'],
    ['/admin/', 'root', '/admin/'],
    ['/admin?q=1', 'admin', '/admin?q=1'],
  ],
};

describe('faults B7: request path normalisation through HAProxy', { timeout: 180_000 }, () => {
  let fed: Federation;
  let edge: string;

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }] });
    edge = fed.edges[0]?.url as string;
    await create(fed, 'alpha', [ingressClass(),
      ...serviceWithEndpoint('root', '127.0.87.1'), ...serviceWithEndpoint('admin', '127.0.87.2'), ...serviceWithEndpoint('static', '127.0.87.3'),
      ingress('prefix', [{ host: PREFIX_HOST, paths: [{ path: '/', service: 'root' }, { path: '/admin', service: 'admin' }, { path: '/st%61tic', service: 'static' }] }]),
      ingress('exact', [{ host: EXACT_HOST, paths: [{ path: '/', service: 'root' }, { path: '/admin', pathType: 'Exact', service: 'admin' }] }])]);
    await waitFor('both hosts routed', async () => (await rawGet(edge, PREFIX_HOST, '/static')).who === 'static' &&
      (await rawGet(edge, EXACT_HOST, '/admin')).who === 'admin' && (await rawGet(edge, PREFIX_HOST, '/admin')).who === 'admin', { timeoutMs: 20_000 });
    await fed.hub.idle();
  });

  after(async () => {
    await fed?.stop();
  });

  for (const [host, cases] of Object.entries(CASES)) {
    const rule = host === PREFIX_HOST ? 'Prefix /admin' : 'Exact /admin';
    for (const [path, who, forwarded] of cases) {
      it(`B7: ${rule}, request ${path} → ${who === '400' ? '400' : `${who} (receives ${forwarded ?? ''})`}`, async () => {
        assert.deepEqual(await rawGet(edge, host, path), who === '400' ? { who } : { who, path: forwarded });
      });
    }
  }
});
