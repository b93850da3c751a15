import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkCertificate } from '@ingressfed/schemas';
import { selfSignedCertificate } from './self-signed.js';

describe('self-signed default certificate', () => {
  it('makes a certificate node:crypto and openssl read, signed by its own key, naming no host', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    const { cert, key } = selfSignedCertificate('ingressfed default certificate', 3650, now);
    const x = new X509Certificate(cert);
    assert.match(x.subject, /CN=ingressfed default certificate/);
    assert.equal(x.subject, x.issuer);
    assert.equal(x.subjectAltName, undefined, 'no host names');
    assert.equal(Date.parse(x.validFrom), now.getTime() - 86_400_000);
    assert.equal(Date.parse(x.validTo), now.getTime() + 3650 * 86_400_000);
    assert.ok(x.verify(x.publicKey));
    const checked = checkCertificate(cert, key, now.getTime());
    assert.ok(checked.ok, checked.ok ? '' : checked.problem);
    // OpenSSL (as HAProxy uses it) reads it and finds its signature good.
    const dir = mkdtempSync(join(tmpdir(), 'ingressfed-selfsigned-'));
    try {
      writeFileSync(join(dir, 'c.pem'), cert);
      const text = execFileSync('openssl', ['x509', '-in', join(dir, 'c.pem'), '-noout', '-text'], { encoding: 'utf8' });
      assert.match(text, /Version: 3/);
      assert.match(text, /ecdsa-with-SHA256/);
      execFileSync('openssl', ['verify', '-CAfile', join(dir, 'c.pem'), '-check_ss_sig', '-partial_chain', join(dir, 'c.pem')], { stdio: ['ignore', 'pipe', 'pipe'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes a new key and serial each time', () => {
    const a = new X509Certificate(selfSignedCertificate('x').cert);
    const b = new X509Certificate(selfSignedCertificate('x').cert);
    assert.notEqual(a.serialNumber, b.serialNumber);
    assert.notEqual(a.fingerprint256, b.fingerprint256);
  });
});
