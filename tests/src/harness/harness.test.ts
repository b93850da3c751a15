import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Redis } from 'ioredis';
import { httpRequest, startEchoServer, startNats, startRedis, waitFor, type EchoReply } from './index.js';

const portClosed = (port: number, host = '127.0.0.1'): Promise<boolean> => new Promise((resolve) => {
  const s = tcpConnect(port, host);
  s.once('connect', () => { s.destroy(); resolve(false); });
  s.once('error', () => resolve(true));
});

describe('harness: real servers on loopback, started and stopped by the tests', { timeout: 60_000 }, () => {
  it('starts nats-server with JetStream: a KV bucket stores and returns a value', async () => {
    const nats = await startNats();
    try {
      const nc = await nats.connectAsHub();
      const kv = await new Kvm(jetstream(nc)).create('harness_check');
      await kv.put('a.b', 'hello');
      assert.equal((await kv.get('a.b'))?.string(), 'hello');
      await nc.close();
    } finally {
      await nats.stop();
    }
    assert.ok(await portClosed(nats.port), 'the port is released after stop');
  });

  it('starts redis-server with a password: refused without it, it answers PING and stores a key with it', async () => {
    const redis = await startRedis();
    try {
      const anonymous = new Redis(redis.address, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      let why = '';
      anonymous.on('error', (err: Error) => (why = err.message));
      await assert.rejects(anonymous.connect().then(() => anonymous.get('k')));
      assert.match(why, /NOAUTH/, 'a connection without the password is refused');
      anonymous.disconnect();
      assert.ok(!redis.process.output().includes(redis.password), 'the password is not on its command line or in its log');
      const r = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await r.connect();
      assert.equal(await r.ping(), 'PONG');
      await r.set('k', 'v');
      assert.equal(await r.get('k'), 'v');
      r.disconnect();
    } finally {
      await redis.stop();
    }
    assert.ok(await portClosed(redis.port));
  });

  it('echo servers on 127.0.0.x say which endpoint, host, path and method served a request', async () => {
    const echo = await startEchoServer('127.0.0.9', { cluster: 'a', zone: 'z1' });
    try {
      const r = await httpRequest(`http://${echo.endpoint}/p?q=1`, { host: 'x.example.com', method: 'POST', body: 'hi' });
      const j = r.json<EchoReply>();
      assert.deepEqual([j.endpoint, j.host, j.path, j.method, j.body, j.cluster, j.zone],
        [echo.endpoint, 'x.example.com', '/p?q=1', 'POST', 'hi', 'a', 'z1']);
      assert.equal(echo.requests, 1);
    } finally {
      await echo.stop();
    }
    assert.ok(await portClosed(echo.port, '127.0.0.9'));
  });

  it('waitFor returns the first truthy value and fails with what it waited for after the deadline', async () => {
    let n = 0;
    assert.equal(await waitFor('n to reach 3', () => (++n >= 3 ? n : undefined), { intervalMs: 1 }), 3);
    await assert.rejects(waitFor('something that never happens', () => false, { timeoutMs: 50 }), /waiting for something that never happens/);
  });
});
