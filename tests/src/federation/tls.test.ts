import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { httpRequest, makeTestCa, startFederation, waitFor, type EchoReply, type Federation, type TestCa } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Every channel with TLS and authentication, with certificates the test makes: spokes and hub → NATS
// (mutual TLS), hub → Redis (password and mutual TLS), hub → Data Plane API (HTTPS), operators → hub
// API (HTTPS). The federation works end to end, and each channel refuses what lacks TLS or the
// right certificate.

const TOKEN = 'tls-test-token-0123456789abcdef';

describe('TLS on every channel', { timeout: 120_000 }, () => {
  let fed: Federation;
  let ca: TestCa;
  let stranger: TestCa;
  const port = (url: string): number => Number(new URL(url).port);

  before(async () => {
    fed = await startFederation({ clusters: [{ name: 'alpha', zone: 'zone-a' }], redis: true, api: { tokens: [{ name: 'ops', token: TOKEN, role: 'read' }] }, tls: true });
    ca = fed.ca as TestCa;
    stranger = makeTestCa('stranger');
    await fed.kubectl('alpha', ['create', '-f', '-'], ingressClass());
    await fed.kubectl('alpha', ['create', '-f', '-'], service('web'));
    await fed.kubectl('alpha', ['create', '-f', '-'], endpointSlice('web', [{ address: '127.0.31.1' }]));
    await fed.kubectl('alpha', ['create', '-f', '-'], ingress('web', [{ host: 'web.example.com', paths: [{ path: '/', service: 'web' }] }]));
  });

  after(async () => {
    await fed?.stop();
    stranger?.remove();
  });

  it('serves a route end to end: spoke → NATS → hub (leader by its Redis lease) → Data Plane API → HAProxy', async () => {
    const edge = fed.edges[0];
    assert.match(fed.nats.url, /^tls:\/\//);
    assert.match(fed.redis?.url ?? '', /^rediss:\/\//);
    assert.match(edge?.dp.url ?? '', /^https:\/\//);
    await waitFor('the route served', async () => {
      const r = await httpRequest(`${edge?.url}/`, { host: 'web.example.com' });
      return r.status === 200 && r.json<EchoReply>().cluster === 'alpha';
    }, { timeoutMs: 30_000 });
    assert.equal(fed.hub.isLeader, true, 'the lease is held through Redis over TLS');
  });

  it('serves the hub API over HTTPS only, with a certificate the test CA signed', async () => {
    const url = fed.apiUrl as string;
    assert.match(url, /^https:\/\//);
    const ok = await httpRequest(`${url}/api/v1/clusters`, { headers: { authorization: `Bearer ${TOKEN}` }, ca: ca.ca });
    assert.equal(ok.status, 200);
    await assert.rejects(httpRequest(`${url}/api/v1/clusters`, { headers: { authorization: `Bearer ${TOKEN}` }, ca: stranger.ca }), /self.signed|unable to verify|certificate/i);
    // Plain HTTP on the HTTPS port gets no API answer.
    const plain = await httpRequest(url.replace('https:', 'http:') + '/api/v1/clusters', { headers: { authorization: `Bearer ${TOKEN}` }, timeoutMs: 3000 }).catch((err: Error) => err);
    assert.ok(plain instanceof Error || plain.status === 400, `plain HTTP answered ${plain instanceof Error ? plain.message : plain.status}`);
  });

  it('refuses NATS connections without TLS, without a client certificate, or with a certificate of another CA', async () => {
    const id = fed.nats.spoke('alpha');
    const base = { servers: `127.0.0.1:${port(fed.nats.url)}`, user: id.user, pass: id.password, reconnect: false, timeout: 3000 };
    // Without TLS: the server requires it in its greeting, and a plain CONNECT gets no PONG.
    const plain = await plainNatsSession(port(fed.nats.url), `CONNECT ${JSON.stringify({ user: id.user, pass: id.password, verbose: false })}\r\nPING\r\n`);
    assert.match(plain, /"tls_required":true/);
    assert.doesNotMatch(plain, /PONG/);
    // nats.js upgrades to TLS when told; trusting only the system's CAs, it refuses the test CA's certificate.
    await assert.rejects(connect(base), /unable to verify|certificate/i);
    // The server ends the handshake (the client sees a reset or a closed connection) and logs why.
    const handshakeErrors = (): string[] => fed.nats.process.output().split('\n').filter((l) => /TLS handshake error/.test(l));
    const refusedWith = async (tls: object, why: RegExp): Promise<void> => {
      const before = handshakeErrors().length;
      await assert.rejects(connect({ ...base, tls }));
      await waitFor(`the server's log line matching ${why}`, async () => handshakeErrors().slice(before).find((l) => why.test(l)), { timeoutMs: 5000 });
    };
    await refusedWith({ ca: ca.ca }, /didn't provide a certificate|certificate required/);
    const other = stranger.client('nats-alpha');
    await refusedWith({ ca: ca.ca, cert: other.cert, key: other.key }, /certificate signed by unknown authority|bad certificate/);
    // With its own certificate it gets in, and the password still decides what it may do.
    const nc = await connect({ ...base, tls: fed.nats.clientTls('alpha') });
    await nc.close();
  });

  it('refuses Redis connections without TLS, or without a client certificate', async () => {
    const redis = fed.redis;
    assert.ok(redis?.clientTls);
    const attempt = async (url: string, tls?: object): Promise<string> => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 3000, ...(tls ? { tls } : {}) });
      r.on('error', () => undefined);
      try {
        await r.connect();
        return String(await r.ping());
      } catch (err) {
        return `refused: ${(err as Error).message}`;
      } finally {
        r.disconnect();
      }
    };
    assert.match(await attempt(redis.url.replace('rediss:', 'redis:')), /^refused/);
    assert.match(await attempt(redis.url, { ca: ca.ca }), /^refused/);
    assert.equal(await attempt(redis.url, redis.clientTls), 'PONG');
  });

  it('refuses HTTPS to the Data Plane API from a client that trusts another CA', async () => {
    const dp = fed.edges[0]?.dp;
    const socket = tlsConnect({ host: '127.0.0.1', port: port(dp?.url ?? ''), ca: stranger.ca });
    const err = await new Promise<Error>((resolve) => socket.once('error', resolve).once('secureConnect', () => resolve(new Error('connected'))));
    socket.destroy();
    assert.match(err.message, /self.signed|unable to verify|certificate/i);
  });
});

/** A raw TCP session with nats-server: what it sends back, until it closes or 3 s have passed. */
function plainNatsSession(port: number, send: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const socket = tcpConnect({ host: '127.0.0.1', port });
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 3000);
    socket.on('data', (d: Buffer) => {
      const first = got === '';
      got += d.toString('latin1');
      if (first) socket.write(send);
    });
    socket.on('close', done);
    socket.on('error', done);
  });
}
