import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareRevisions, decodeStateEntry, decodeToken, encodeToken, hostProblem, objectKey, parseStateKey, pathProblem } from './index.js';

const enc = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));

const ingress = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  schema: 1, cluster: 'a', kind: 'ingress', epoch: 'e1', observedAt: 1, revision: '5',
  source: { uid: 'u-1', resourceVersion: '12', creationTimestamp: '2026-01-01T00:00:00Z' },
  namespace: 'default', name: 'web',
  spec: { className: 'ingressfed', annotations: {}, defaultBackend: null, tls: [],
    rules: [{ host: 'a.example.com', paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] }] },
  ...over,
});

describe('schemas: keys', () => {
  it('encodes names so that no two objects share a key (N1)', () => {
    const a = objectKey('c', 'service', 'x', 'a.b');
    const b = objectKey('c', 'service', 'x.a', 'b');
    assert.notEqual(a, b);
    assert.equal(a, 'c.service.x.a=2Eb');
    assert.equal(objectKey('c', 'ingressclass', undefined, 'nginx'), 'c.ingressclass._.nginx');
    for (const s of ['a.b', 'x=y', '*', '>', 'é', '']) assert.equal(decodeToken(encodeToken(s)), s);
  });

  it('parses keys back and refuses ones ingressfed does not write', () => {
    assert.deepEqual(parseStateKey('c.service.x.a=2Eb'), { type: 'object', cluster: 'c', kind: 'service', namespace: 'x', name: 'a.b' });
    assert.deepEqual(parseStateKey('c._heartbeat'), { type: 'heartbeat', cluster: 'c' });
    assert.throws(() => parseStateKey('C.service.x.y'), /not a DNS label/);
    assert.throws(() => parseStateKey('c.pods.x.y'), /unknown kind/);
    assert.throws(() => parseStateKey('c.service._.y'), /namespace token/);
    assert.throws(() => parseStateKey('c.service.x'), /does not have the form/);
  });
});

describe('schemas: host and path allowlists (RELIABILITY §1.5)', () => {
  const badHosts: Array<[string, RegExp]> = [
    ['a.example.com\nglobal', /outside printable ASCII/], ['a.example.com b.example.com', /outside printable ASCII/],
    ['a.example.com#x', /invalid label/], ['"a.example.com', /invalid label/], ['a.example.com\\', /invalid label/],
    ['${HOME}', /lowercase/], ['${home}', /invalid label/], ['%[env(X)]', /lowercase/], ['%[env(x)]', /invalid label/], ['*', /only start with/], ['*.', /invalid label/],
    ['**.example.com', /only start with/], ['a.*.example.com', /only start with/], ['*example.com', /only start with/],
    ['EXAMPLE.com', /lowercase/], ['example.com.', /invalid label/], ['a.example.com:8080', /invalid label/],
    ['192.0.2.1', /IP address/], ['[::1]', /invalid label/], [`${'a'.repeat(64)}.example.com`, /at most 63/],
    ['a'.repeat(254), /at most 253/], ['bücher.example', /punycode/], ['a\u200b.example.com', /punycode/], ['a\u0000b', /outside/],
  ];
  for (const [h, re] of badHosts) {
    it(`refuses host ${JSON.stringify(h.slice(0, 40))}`, () => assert.match(hostProblem(h) ?? 'accepted', re));
  }
  it('accepts DNS names, punycode and a leading wildcard', () => {
    for (const h of ['a.example.com', 'xn--bcher-kva.example', '*.example.com', 'localhost']) assert.equal(hostProblem(h), undefined, h);
  });

  const badPaths = ['/x\nhttp-request return', '/sp ace', '/tab\tx', '/a#b', "/a'b", '/a"b', '/a\\b', '/a;add map', '/%[env(HOME)]',
    '/${HOME}', '/../etc/passwd', '/a/./b', '//admin', '/%2fadmin', '/%00', '/%zz', 'x', '/(a+)+$', '/a\u0000'];
  for (const p of badPaths) {
    it(`refuses path ${JSON.stringify(p)}`, () => assert.notEqual(pathProblem(p), undefined));
  }
  it('accepts ordinary paths, %2e and a 1024-character path', () => {
    for (const p of ['/', '/foo', '/foo/', '/a/b-c_d.e~f', '/%2e%2e/', '/v1:batch', `/${'a'.repeat(1023)}`]) assert.equal(pathProblem(p), undefined, p);
    assert.notEqual(pathProblem(`/${'a'.repeat(1024)}`), undefined);
  });
});

describe('schemas: decoding state entries', () => {
  it('accepts a valid ingress record', () => {
    const r = decodeStateEntry('a.ingress.default.web', enc(ingress()));
    assert.equal(r.ok, true);
  });
  it('refuses a record whose cluster differs from the key', () => {
    const r = decodeStateEntry('b.ingress.default.web', enc(ingress()));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /names cluster 'a', the key names 'b'/);
  });
  it('refuses malformed JSON, unknown fields, wrong schema versions and mismatched names', () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['a.ingress.default.web', Buffer.from('{"cluster":'), /not valid JSON/],
      ['a.ingress.default.web', enc({ ...ingress(), extra: 1 }), /invalid ingress record/],
      ['a.ingress.default.web', enc({ ...ingress(), schema: 2 }), /invalid ingress record/],
      ['a.ingress.default.other', enc(ingress()), /do not match the key/],
      ['a.ingress.default.web', enc(ingress({ source: { uid: '../../etc/passwd', resourceVersion: 'abc', creationTimestamp: 'x' } })), /invalid ingress record/],
    ];
    for (const [key, value, re] of cases) {
      const r = decodeStateEntry(key, value);
      assert.equal(r.ok, false, key);
      assert.match(!r.ok ? r.reason : '', re);
    }
  });
  it('refuses endpoint addresses that only look like IP addresses, and accepts real ones', () => {
    const endpoints = (address: string): Uint8Array => enc({
      schema: 1, cluster: 'a', kind: 'endpoints', epoch: 'e1', observedAt: 1, revision: '5',
      source: { uid: 'u-1', resourceVersion: '12', creationTimestamp: '2026-01-01T00:00:00Z' }, namespace: 'default', name: 'web',
      spec: { endpoints: [{ address, ready: true, serving: true, terminating: false, zone: null, nodeName: null, ports: [{ name: '', port: 8080, protocol: 'TCP' }] }] },
    });
    for (const a of ['add', 'aaaa', '::::::::', 'dead:beef']) {
      const r = decodeStateEntry('a.endpoints.default.web', endpoints(a));
      assert.match(!r.ok ? r.reason : 'accepted', /is not an IPv4 or IPv6 address/, a);
    }
    for (const a of ['10.0.0.1', 'fd00::1', '2001:db8::8:800:200c:417a']) assert.equal(decodeStateEntry('a.endpoints.default.web', endpoints(a)).ok, true, a);
  });
});

describe('schemas: record revisions', () => {
  it('orders revisions as numbers, past the range of doubles', () => {
    assert.ok(compareRevisions('9', '10') < 0);
    assert.ok(compareRevisions('10', '9') > 0);
    assert.equal(compareRevisions('0010', '10'), 0);
    assert.ok(compareRevisions('18446744073709551615', '18446744073709551614') > 0);
    assert.equal(compareRevisions('0', '000'), 0);
  });

  it('refuses a record without a revision', () => {
    const { revision: _r, ...rest } = ingress();
    const d = decodeStateEntry('a.ingress.default.web', enc(rest));
    assert.equal(d.ok, false);
  });
});
