import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { certificateCovers, checkCertificate } from './certificates.js';

// Certificates made by openssl for this test (self-signed, EC P-256).
const dir = mkdtempSync(join(tmpdir(), 'ingressfed-certs-'));
const openssl = (args: string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
};
const selfSigned = (name: string, sans: string[]): { cert: string; key: string } => {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${sans[0]}`,
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-addext', `subjectAltName=${sans.map((s) => `DNS:${s}`).join(',')}`]);
  return { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
};

describe('certificate checks', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));
  const web = selfSigned('web', ['a.example.test', '*.w.example.test']);
  const other = selfSigned('other', ['b.example.test']);

  it('accepts a chain whose key matches, and reads its names and dates', () => {
    const c = checkCertificate(web.cert, web.key);
    assert.ok(c.ok, c.ok ? '' : c.problem);
    assert.deepEqual(c.info.dnsNames, ['a.example.test', '*.w.example.test']);
    assert.match(c.info.subject, /CN=a\.example\.test/);
    assert.ok(c.info.notAfter > Date.now() && c.info.notBefore <= Date.now());
  });

  it('matches hosts as TLS clients do: exact names, and a wildcard covering exactly one label', () => {
    const c = checkCertificate(web.cert, web.key);
    assert.ok(c.ok);
    const covers = (h: string): boolean => certificateCovers(c.leaf, h);
    assert.deepEqual(['a.example.test', 'x.w.example.test', '*.w.example.test'].map(covers), [true, true, true]);
    assert.deepEqual(['w.example.test', 'y.x.w.example.test', 'b.example.test', '*.example.test', 'aa.example.test'].map(covers), [false, false, false, false, false]);
  });

  it('refuses a key that does not match, an encrypted key, garbage and an expired or not yet valid certificate, saying which', () => {
    const problem = (cert: string, key: string, now?: number): string => {
      const c = checkCertificate(cert, key, now);
      assert.ok(!c.ok);
      return c.problem;
    };
    assert.match(problem(web.cert, other.key), /does not match/);
    openssl(['pkey', '-in', 'web.key', '-aes256', '-passout', 'pass:secret', '-out', 'web-enc.key']);
    assert.match(problem(web.cert, readFileSync(join(dir, 'web-enc.key'), 'utf8')), /encrypted/);
    assert.match(problem('not a certificate', web.key), /no PEM certificate/);
    assert.match(problem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', web.key), /does not parse/);
    assert.match(problem(web.cert, 'garbage'), /tls\.key does not parse/);
    const c = checkCertificate(web.cert, web.key);
    assert.ok(c.ok);
    assert.match(problem(web.cert, web.key, c.info.notAfter), /expired at/);
    assert.match(problem(web.cert, web.key, c.info.notBefore - 1), /not valid before/);
  });
});
