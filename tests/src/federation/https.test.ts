import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { httpRequest, makeTestCa, startFederation, waitFor, type EchoReply, type Federation, type TestCa } from '../harness/index.js';
import { selfSignedCertificate } from '@ingressfed/hub/internal';
import { endpointSlice, ingress, ingressClass, service, tlsSecret } from '../kube/manifests.js';

// HTTPS on an edge: two clusters each publish a TLS Secret (its key sealed to the hub), and the edge
// serves each host with its own certificate, picked by SNI, routing as over HTTP; an unknown name
// gets the self-signed default certificate; a renewed certificate goes live without a reload; a
// certificate that turns bad stops being served for its host only. Certificates come from a test CA.

interface HttpsAnswer { status: number; subject: string; serial: string; reply: EchoReply | undefined }

describe('HTTPS with SNI from every cluster\'s Secrets', { timeout: 180_000 }, () => {
  let fed: Federation;
  let ca: TestCa;
  const port = (): number => fed.edges[0]?.httpsPort as number;

  /** One HTTPS request to an edge (default the first) with `servername` as SNI and Host; trusts the test CA unless `insecure`. */
  const get = (servername: string, path = '/', insecure = false, edge = 0): Promise<HttpsAnswer> => new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: fed.edges[edge]?.httpsPort as number, path, servername, headers: { host: servername }, ca: ca.ca, rejectUnauthorized: !insecure, agent: false, timeout: 5000 }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let reply: EchoReply | undefined;
        try {
          reply = JSON.parse(body) as EchoReply;
        } catch {
          reply = undefined;
        }
        resolve({ status: res.statusCode ?? 0, subject: String(cert.subject?.CN ?? ''), serial: cert.serialNumber ?? '', reply });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
  const reloads = async (): Promise<number> => (await fed.edges[0]?.dp.procState())?.master.reloads ?? -1;

  before(async () => {
    ca = makeTestCa('https');
    // edge-b shows its operator's default certificate to names it has none for; edge-a its own self-signed one.
    const operatorDefault = ca.site(['default.operator.test']);
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }, { name: 'beta', zone: 'zone-b' }],
      edges: [{ name: 'edge-a', zone: 'zone-a', https: true }, { name: 'edge-b', zone: 'zone-b', https: true, defaultCertificate: operatorDefault }], sealing: true,
    });
    for (const [cluster, host, address] of [['alpha', 'shop.example.test', '127.0.222.1'], ['beta', 'api.example.test', '127.0.222.2']] as const) {
      const site = ca.site([host]);
      const svc = `${cluster}-web`;
      await fed.kubectl(cluster, ['create', '-f', '-'], `---\n${[ingressClass(), service(svc), endpointSlice(svc, [{ address }]), tlsSecret(`${cluster}-tls`, site.cert, site.key),
        // beta keeps plain HTTP to its host (the annotation); alpha's is redirected to HTTPS (the default).
        ingress('web', [{ host, paths: [{ path: '/', service: svc }] }], { tls: [{ hosts: [host], secretName: `${cluster}-tls` }], ...(cluster === 'beta' ? { annotations: { 'ingressfed.io/ssl-redirect': 'false' } } : {}) })].join('\n---\n')}\n`);
    }
    await fed.echo.settled();
    await waitFor('both hosts served over HTTPS', async () => {
      const [a, b] = await Promise.all([get('shop.example.test').catch(() => undefined), get('api.example.test').catch(() => undefined)]);
      return a?.status === 200 && b?.status === 200;
    }, { timeoutMs: 30_000 });
  });

  after(async () => {
    await fed?.stop();
    ca?.remove();
  });

  it('serves each host with its own cluster\'s certificate by SNI, routes it as over HTTP, and says X-Forwarded-Proto: https', async () => {
    const shop = await get('shop.example.test');
    assert.equal(shop.subject, 'shop.example.test');
    assert.equal(shop.reply?.cluster, 'alpha');
    assert.equal(shop.reply?.headers['x-forwarded-proto'], 'https');
    const api = await get('api.example.test', '/v1/items');
    assert.equal(api.subject, 'api.example.test');
    assert.equal(api.reply?.cluster, 'beta');
    assert.equal(api.reply?.path, '/v1/items');
    // Secrets are published before the Ingresses naming them: no owner was told of a passing refusal.
    for (const cluster of ['alpha', 'beta']) {
      const events = JSON.parse(await fed.kubectl(cluster, ['get', 'events', '-o', 'json'])) as { items: Array<{ reason: string; message: string }> };
      assert.deepEqual(events.items.filter((e) => e.reason === 'TlsRefused').map((e) => e.message), [], `no TlsRefused event in ${cluster}`);
    }
    // Plain HTTP keeps working where the Ingress says so, and says it is plain.
    const plain = await httpRequest(`${fed.edges[0]?.url as string}/`, { host: 'api.example.test' });
    assert.equal(plain.status, 200);
    assert.equal(plain.json<EchoReply>().headers['x-forwarded-proto'], 'http');
  });

  it('redirects plain HTTP to a TLS host to HTTPS (308), unless its Ingress says ingressfed.io/ssl-redirect: "false"; other hosts stay plain', async () => {
    const redirected = await httpRequest(`${fed.edges[0]?.url as string}/cart?id=1`, { host: 'shop.example.test' });
    assert.equal(redirected.status, 308);
    assert.equal(redirected.headers.location, 'https://shop.example.test/cart?id=1');
    assert.equal((await httpRequest(`${fed.edges[0]?.url as string}/`, { host: 'api.example.test' })).status, 200);
    assert.equal((await httpRequest(`${fed.edges[0]?.url as string}/`, { host: 'nothing.example.test' })).status, 404, 'a host without TLS is not redirected');
  });

  it('answers curl with --resolve and --cacert', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile('curl', ['-sS', '--max-time', '5', '--cacert', ca.caFile, '--resolve', `shop.example.test:${port()}:127.0.0.1`, `https://shop.example.test:${port()}/`],
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout)));
    });
    assert.equal((JSON.parse(out) as EchoReply).cluster, 'alpha');
  });

  it('shows an unknown name the self-signed default certificate, naming no host of any cluster', async () => {
    const unknown = await get('unknown.example.test', '/', true);
    assert.equal(unknown.subject, 'ingressfed default certificate');
    assert.equal(unknown.status, 404);
    await assert.rejects(get('unknown.example.test'), /self[- ]signed|unable to verify|certificate/i, 'not trusted by the test CA');
    // An edge given a default certificate shows that one; it serves every host's own all the same.
    assert.equal((await get('unknown.example.test', '/', true, 1)).subject, 'default.operator.test');
    assert.equal((await get('api.example.test', '/', false, 1)).subject, 'api.example.test');
  });

  it('takes a renewed certificate without a reload, and no HTTPS request fails meanwhile', async () => {
    const before = await get('shop.example.test');
    const reloadsBefore = await reloads();
    // HTTPS requests, one after another, all through the rotation (and at least 20 of them).
    let probing = true;
    const probed = { requests: 0, failures: 0 };
    const probe = (async () => {
      while (probing || probed.requests < 20) {
        const a = await get('shop.example.test').catch(() => undefined);
        probed.requests++;
        if (a?.status !== 200 || a.reply?.cluster !== 'alpha') probed.failures++;
      }
    })();
    try {
      const renewed = ca.site(['shop.example.test']);
      await fed.kubectl('alpha', ['replace', '-f', '-'], tlsSecret('alpha-tls', renewed.cert, renewed.key));
      const after = await waitFor('the renewed certificate served', async () => {
        const a = await get('shop.example.test');
        return a.serial !== before.serial ? a : undefined;
      }, { timeoutMs: 20_000 });
      assert.equal(after.reply?.cluster, 'alpha');
      await fed.hub.idle();
    } finally {
      probing = false;
      await probe;
    }
    assert.equal(await reloads(), reloadsBefore, 'no reload');
    assert.ok(probed.requests >= 20, `${probed.requests} HTTPS requests during the rotation`);
    assert.equal(probed.failures, 0, `${probed.failures} of ${probed.requests} HTTPS requests failed`);
    console.log(`HTTPS rotation: ${probed.requests} requests during it, ${probed.failures} failed, 0 reloads`);
  });

  it('stops serving a certificate that turns bad, for its host only; the other host keeps its own', async () => {
    const other = ca.site(['other.example.test']);
    const good = ca.site(['api.example.test']);
    // beta's Secret now holds a key that does not match its certificate.
    await fed.kubectl('beta', ['replace', '-f', '-'], tlsSecret('beta-tls', good.cert, other.key));
    await waitFor('api.example.test no longer served with its certificate', async () => (await get('api.example.test', '/', true)).subject === 'ingressfed default certificate', { timeoutMs: 20_000 });
    const shop = await get('shop.example.test');
    assert.equal(shop.subject, 'shop.example.test');
    assert.equal(shop.reply?.cluster, 'alpha');
    const event = await waitFor('the owner told', async () => {
      const events = JSON.parse(await fed.kubectl('beta', ['get', 'events', '-o', 'json'])) as { items: Array<{ involvedObject: { name: string }; reason: string; message: string }> };
      return events.items.find((e) => e.involvedObject.name === 'web' && e.reason === 'TlsRefused' && /tls\.key does not match/.test(e.message))?.message;
    }, { timeoutMs: 15_000 });
    assert.match(event, /no certificate for api\.example\.test: Secret default\/beta-tls: tls\.key does not match/);
  });

  it('isolates each bad certificate: expired, not a certificate, a missing Secret, one not covering its host; each such host falls back to the default certificate and its owner is told why, while good hosts keep theirs', async () => {
    const past = selfSignedCertificate('expired.example.test', 1, new Date(Date.now() - 10 * 86_400_000));
    const wrong = ca.site(['elsewhere.example.test']);
    const cases = [
      { host: 'expired.example.test', secret: tlsSecret('expired-tls', past.cert, past.key), secretName: 'expired-tls', why: /Secret default\/expired-tls: the certificate expired at/ },
      { host: 'garbled.example.test', secret: tlsSecret('garbled-tls', 'not a certificate', wrong.key), secretName: 'garbled-tls', why: /Secret default\/garbled-tls: tls\.crt holds no PEM certificate/ },
      { host: 'nosecret.example.test', secret: undefined, secretName: 'absent-tls', why: /Secret default\/absent-tls is not published/ },
      { host: 'uncovered.example.test', secret: tlsSecret('wrong-tls', wrong.cert, wrong.key), secretName: 'wrong-tls', why: /the certificate of Secret default\/wrong-tls does not cover uncovered\.example\.test/ },
    ];
    const docs = cases.flatMap((c, i) => [...(c.secret ? [c.secret] : []),
      ingress(`bad-${i}`, [{ host: c.host, paths: [{ path: '/', service: 'alpha-web' }] }], { tls: [{ hosts: [c.host], secretName: c.secretName }] })]);
    await fed.kubectl('alpha', ['create', '-f', '-'], `---\n${docs.join('\n---\n')}\n`);
    for (const [i, c] of cases.entries()) {
      const message = await waitFor(`the owner of bad-${i} told`, async () => {
        const events = JSON.parse(await fed.kubectl('alpha', ['get', 'events', '-o', 'json'])) as { items: Array<{ involvedObject: { name: string }; reason: string; message: string }> };
        return events.items.find((e) => e.involvedObject.name === `bad-${i}` && e.reason === 'TlsRefused')?.message;
      }, { timeoutMs: 20_000 });
      assert.match(message, c.why);
      // Routed all the same, over HTTPS with the default certificate.
      const answer = await waitFor(`${c.host} routed`, async () => {
        const a = await get(c.host, '/', true).catch(() => undefined);
        return a?.status === 200 ? a : undefined;
      }, { timeoutMs: 20_000 });
      assert.equal(answer.subject, 'ingressfed default certificate', `${c.host} gets the default certificate`);
    }
    const shop = await get('shop.example.test');
    assert.equal(shop.subject, 'shop.example.test', 'a good host keeps its certificate');
    assert.equal(shop.reply?.cluster, 'alpha');
  });

  it('serves a host two clusters serve with different certificates with the oldest Ingress\'s, and tells the other owner', async () => {
    const host = 'both.example.test';
    const alphaCert = ca.site([host]);
    const betaCert = ca.site([host]);
    // The same Service in both clusters: one backend, one route, two Ingresses; alpha's is older.
    for (const [cluster, cert, address] of [['alpha', alphaCert, '127.0.222.11'], ['beta', betaCert, '127.0.222.12']] as const) {
      await fed.kubectl(cluster, ['create', '-f', '-'], `---\n${[service('both-web'), endpointSlice('both-web', [{ address }]), tlsSecret('both-tls', cert.cert, cert.key),
        ingress('both', [{ host, paths: [{ path: '/', service: 'both-web' }] }], { tls: [{ hosts: [host], secretName: 'both-tls' }] })].join('\n---\n')}\n`);
      // beta's Ingress is made in a later second than alpha's (creation times have a one-second resolution).
      if (cluster === 'alpha') {
        const created = Date.parse(await fed.kubectl('alpha', ['get', 'ingress', 'both', '-o', 'jsonpath={.metadata.creationTimestamp}']));
        await waitFor('a second after alpha\'s Ingress was made', () => Date.now() >= created + 1000, { timeoutMs: 5000, intervalMs: 50 });
      }
    }
    await fed.echo.settled();
    const serial = new X509Certificate(alphaCert.cert).serialNumber;
    const answer = await waitFor(`${host} served with alpha's certificate`, async () => {
      const a = await get(host).catch(() => undefined);
      return a?.status === 200 && a.serial === serial ? a : undefined;
    }, { timeoutMs: 20_000 });
    assert.equal(answer.subject, host);
    const told = await waitFor('beta\'s owner told', async () => {
      const events = JSON.parse(await fed.kubectl('beta', ['get', 'events', '-o', 'json'])) as { items: Array<{ involvedObject: { name: string }; reason: string; message: string }> };
      return events.items.find((e) => e.involvedObject.name === 'both' && e.reason === 'TlsRefused')?.message;
    }, { timeoutMs: 20_000 });
    assert.match(told, /served with the certificate of alpha\/default\/both/);
  });
});
