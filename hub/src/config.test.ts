import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { loadHubConfig } from './config.js';

describe('hub configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ingressfed-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const edge = { name: 'edge-a', url: 'https://127.0.0.1:5555', username: 'admin', password: 'pw', zone: 'zone-a', bindAddress: '127.0.0.1', bindPort: 8080, publicAddress: '127.0.0.1' };
  const write = (config: unknown): string => {
    const path = join(dir, `hub-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(config));
    return path;
  };

  it('accepts deploy/hub/hub.json.example but for the files it names, which exist only on a real host', () => {
    const example = fileURLToPath(new URL('../../deploy/hub/hub.json.example', import.meta.url));
    const err = (() => {
      try {
        loadHubConfig(example);
        return undefined;
      } catch (e) {
        return e as Error;
      }
    })();
    const problems = (err?.message ?? '').split('\n').slice(1).map((l) => l.trim());
    assert.ok(problems.length > 0, err?.message);
    for (const p of problems) assert.match(p, /: cannot read \/etc\/ingressfed\//, p);
  });

  it('reads a configuration and the files it names', () => {
    writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
    const c = loadHubConfig(write({
      nats: { url: 'tls://127.0.0.1:4222', user: 'hub', password: 'x', tls: { caFile: join(dir, 'ca.pem') } },
      edges: [{ ...edge, caFile: join(dir, 'ca.pem') }],
      hostPolicy: [{ hosts: ['*.example.com'], clusters: ['alpha'] }],
    }));
    assert.equal(c.nats.tls?.ca, 'CA PEM');
    assert.equal(c.edges[0]?.ca, 'CA PEM');
    assert.equal('caFile' in (c.edges[0] ?? {}), false);
    assert.deepEqual(c.hostPolicy, [{ hosts: ['*.example.com'], clusters: ['alpha'] }]);
  });

  it('names the field of every problem', () => {
    const problems = (config: unknown): string => {
      try {
        loadHubConfig(write(config));
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    assert.match(problems({ nats: { url: 'nats://x' }, edges: [] }), /edges: .*1/);
    assert.match(problems({ nats: { url: 'nats://x' }, edges: [{ ...edge, bindPort: 0 }] }), /edges\[0\]\.bindPort/);
    assert.match(problems({ nats: { url: 'nats://x' }, edges: [edge], surprise: 1 }), /surprise|additional/i);
    assert.match(problems({ nats: { url: 'nats://x' }, edges: [edge, edge] }), /edges\[1\]\.name: duplicate edge name edge-a/);
    assert.match(problems({ nats: { url: 'nats://x' }, edges: [edge], allowedEndpointCidrs: { '*': ['10.0.0.0/33'] } }), /allowedEndpointCidrs\.\*/);
    assert.match(problems({ nats: { url: 'nats://x' }, edges: [edge], hostPolicy: [{ hosts: ['a.example.com'], clusters: [] }] }), /hostPolicy\[0\]\.clusters: name at least one cluster/);
    assert.match(problems({ nats: { url: 'nats://x', tls: { certFile: 'c.pem' } }, edges: [edge] }), /nats\.tls: certFile and keyFile go together/);
    assert.match(problems({ nats: { url: 'nats://x' }, edges: [{ ...edge, caFile: join(dir, 'missing.pem') }] }), /edges\[0\]\.caFile: cannot read .*missing\.pem/);
  });
});
