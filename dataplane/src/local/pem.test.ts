import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiError } from './api-error.js';
import { certificateInfo, looksLikeCertificate, parseCertificateFile } from './pem.js';

const refusal = (text: string): string => {
  try {
    parseCertificateFile(text);
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) return err.message;
    throw err;
  }
  assert.fail('expected a 400');
};

describe('pem: certificate files as HAProxy loads them', () => {
  let dir: string;
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  /** A self-signed EC certificate and its key, made by openssl. */
  const make = (name: string, san: string): void => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', `subjectAltName=${san}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ingressfed-pem-'));
    make('a.example.test', 'DNS:a.example.test,DNS:www.a.example.test,IP:127.0.0.1');
    make('b.example.test', 'DNS:b.example.test');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('takes a certificate with its key, in either order and with blank lines, and describes it', () => {
    const bundle = parseCertificateFile(`${read('a.example.test.key')}\n\n${read('a.example.test.crt')}`);
    assert.equal(bundle.certs.length, 1);
    assert.ok(bundle.lines.length > 4 && bundle.lines.every((l) => l !== ''), 'payload lines, none empty');
    const info = certificateInfo(bundle);
    assert.equal(info.subject, 'CN=a.example.test');
    assert.equal(info.issuers, 'a.example.test');
    assert.equal(info.domains, 'a.example.test, www.a.example.test');
    assert.equal(info.ip_addresses, '127.0.0.1');
    assert.match(String(info.not_after), /^\d{4}-\d\d-\d\dT/);
    assert.ok(looksLikeCertificate(read('a.example.test.crt')));
    assert.ok(!looksLikeCertificate('/s/a.pem\n'));
  });

  it('refuses garbage, a certificate without a key, a key without a certificate, and a key of another certificate', () => {
    assert.match(refusal('hello\n'), /^not a PEM file: no -----BEGIN/);
    assert.match(refusal(read('a.example.test.crt')), /^the file holds no private key/);
    assert.match(refusal(read('a.example.test.key')), /^the file holds no certificate/);
    assert.match(refusal(`${read('a.example.test.crt')}${read('b.example.test.key')}`),
      /^the private key does not match the certificate \(CN=a\.example\.test, serial [0-9A-F]+\)$/);
    assert.match(refusal('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' + read('a.example.test.key')), /^certificate 1 of the file does not parse/);
    assert.match(refusal('-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n'), /holds characters that are not base64/);
    assert.match(refusal(`${read('a.example.test.crt')}-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n`), /is encrypted/);
  });
});
