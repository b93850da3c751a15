import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { DataPlaneError } from '@ingressfed/dataplane';
import {
  freePort, makeTestCa, startLocalDataPlane, waitFor,
  type CertFiles, type LocalDataPlane, type TestCa,
} from '@ingressfed/tests/harness';
import { workerPids } from './fixtures.js';

// Certificates and crt-lists in the Data Plane API's storage, served by a real HAProxy that picks the
// certificate by SNI: uploaded (certificates at runtime, the crt-list with a reload), named by an SSL
// bind committed in one transaction, a loaded certificate replaced at runtime without a reload, bad
// files refused with what is wrong, and files the configuration uses kept from deletion.

interface Handshake {
  fingerprint: string;
  alpn: string | false;
}

/**
 * One TLS handshake with the bind, sending `servername` as SNI. The chain is checked against the CA;
 * the name is not, since an unknown name is answered with the bind's default certificate.
 */
function handshake(port: number, servername: string, ca: string): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['h2', 'http/1.1'], checkServerIdentity: () => undefined,
    }, () => {
      resolve({ fingerprint: socket.getPeerCertificate().fingerprint256, alpn: socket.alpnProtocol ?? false });
      socket.end();
    });
    socket.setTimeout(5000, () => socket.destroy(new Error(`no TLS handshake with 127.0.0.1:${port} within 5 s`)));
    socket.once('error', reject);
  });
}

const fingerprint = (c: CertFiles): string => new X509Certificate(c.cert).fingerprint256;
const pemOf = (c: CertFiles): string => `${c.cert}${c.key}`;

/** Asserts a DataPlaneError with this HTTP status whose message matches. */
function failsWith(status: number, message: RegExp): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof DataPlaneError, String(err));
    assert.equal(err.httpStatus, status, err.message);
    assert.match(err.message, message);
    return true;
  };
}

describe('dataplane: TLS certificates and crt-lists in storage', { timeout: 180_000 }, () => {
  let ca: TestCa;
  let dp: LocalDataPlane;
  let port: number;
  let a: CertFiles;
  let b: CertFiles;
  let ssl: string;
  const file = (name: string): string => join(ssl, name);
  const served = (name: string): Promise<Handshake> => handshake(port, name, ca.ca);

  before(async () => {
    ca = makeTestCa('tls-storage');
    a = ca.site(['a.example.test']);
    b = ca.site(['b.example.test', 'www.b.example.test']);
    [dp, port] = await Promise.all([startLocalDataPlane(), freePort()]);
    ssl = join(dp.workdir, 'ssl');
  });

  after(async () => {
    await dp?.stop();
    ca?.remove();
  });

  it('stores two certificates at runtime and a crt-list naming them with a reload; lists what they say', { timeout: 30_000 }, async () => {
    const up = await dp.client.uploadSslCertificate('a.example.test.pem', pemOf(a));
    assert.equal(up.applied, 'runtime', 'HAProxy took the new certificate at runtime');
    assert.equal(up.reloadId, undefined);
    assert.equal(up.value?.file, file('a.example.test.pem'));
    assert.equal(up.value?.storage_name, 'a.example.test.pem');
    assert.equal(up.value?.subject, 'CN=a.example.test');
    assert.equal(up.value?.domains, 'a.example.test');
    assert.equal(up.value?.issuers, 'ingressfed test CA tls-storage');
    assert.equal(up.value?.size, pemOf(a).length);
    assert.equal((await dp.client.uploadSslCertificate('b.example.test.pem', pemOf(b))).applied, 'runtime');
    await assert.rejects(dp.client.uploadSslCertificate('b.example.test.pem', pemOf(b)), failsWith(409, /already exists/));

    // b's line: its own SNI filters and ssl options (ALPN http/1.1 only, where the bind offers h2 too).
    const list = `${file('a.example.test.pem')}\n${file('b.example.test.pem')} [alpn http/1.1] b.example.test *.b.example.test\n`;
    const created = await dp.client.createCrtList('edge.crtlist', list);
    assert.equal(created.applied, 'reload', 'a crt-list is read at a reload');
    assert.ok(created.reloadId);
    assert.equal((await dp.client.waitForReload(created.reloadId)).status, 'succeeded');

    assert.deepEqual(await dp.client.listSslCertificates(), [
      { description: 'managed SSL file', file: file('a.example.test.pem'), storage_name: 'a.example.test.pem' },
      { description: 'managed SSL file', file: file('b.example.test.pem'), storage_name: 'b.example.test.pem' },
    ]);
    assert.deepEqual(await dp.client.listCrtLists(), [{ description: 'managed certificate list', file: file('edge.crtlist'), storage_name: 'edge.crtlist' }]);
    const one = await dp.client.getSslCertificate('b.example.test.pem');
    assert.equal(one.domains, 'b.example.test, www.b.example.test');
    const { data } = await dp.client.unwrap('get crt-list', dp.client.api.GET('/services/haproxy/storage/ssl_crt_lists/{name}', {
      params: { path: { name: 'edge.crtlist' } }, parseAs: 'text',
    }));
    assert.equal(data, list);
  });

  it('serves each host its own certificate by SNI, and the first crt-list entry to an unknown name, from a frontend committed in one transaction', { timeout: 30_000 }, async () => {
    const bind = { name: 'https', address: '127.0.0.1', port, ssl: true, crt_list: file('edge.crtlist'), alpn: 'h2,http/1.1' };
    const out = await dp.client.transaction(async (tx) => {
      const params = { query: { ...tx.query, full_section: true } };
      await dp.client.unwrap('be_ok', dp.client.api.POST('/services/haproxy/configuration/backends', {
        params, body: { name: 'be_ok', mode: 'http', http_request_rule_list: [{ type: 'return', return_status_code: 200 }] },
      }));
      await dp.client.unwrap('fe_tls', dp.client.api.POST('/services/haproxy/configuration/frontends', {
        params, body: { name: 'fe_tls', mode: 'http', default_backend: 'be_ok', binds: { https: bind } },
      }));
    });
    assert.equal(out.reload?.status, 'succeeded');
    const { data: readBack } = await dp.client.unwrap('get bind', dp.client.api.GET('/services/haproxy/configuration/frontends/{parent_name}/binds/{name}', {
      params: { path: { parent_name: 'fe_tls', name: 'https' } },
    }));
    assert.deepEqual(readBack, bind);
    const { data: cfg } = await dp.client.unwrap('raw', dp.client.api.GET('/services/haproxy/configuration/raw', { parseAs: 'text' }));
    assert.ok(String(cfg).includes(`    bind 127.0.0.1:${port} name https ssl crt-list ${file('edge.crtlist')} alpn h2,http/1.1\n`), String(cfg));

    const first = await waitFor('the TLS bind to answer', () => served('a.example.test'));
    assert.deepEqual(first, { fingerprint: fingerprint(a), alpn: 'h2' });
    assert.deepEqual(await served('b.example.test'), { fingerprint: fingerprint(b), alpn: 'http/1.1' });
    assert.deepEqual(await served('www.b.example.test'), { fingerprint: fingerprint(b), alpn: 'http/1.1' }, 'by the wildcard filter');
    assert.equal((await served('unknown.example.test')).fingerprint, fingerprint(a), 'the first entry is the default');
  });

  it('replaces a loaded certificate at runtime: no reload, and a new connection gets the new certificate', { timeout: 30_000 }, async () => {
    const before0 = await dp.procState();
    const a2 = ca.site(['a.example.test']);
    const r = await dp.client.replaceSslCertificate('a.example.test.pem', pemOf(a2));
    assert.equal(r.applied, 'runtime');
    assert.equal(r.reloadId, undefined);
    assert.equal(r.value?.serial, new X509Certificate(a2.cert).serialNumber);
    assert.equal((await served('a.example.test')).fingerprint, fingerprint(a2));
    assert.equal((await served('unknown.example.test')).fingerprint, fingerprint(a2), 'the default certificate is the same one');
    assert.equal((await served('b.example.test')).fingerprint, fingerprint(b));
    const now = await dp.procState();
    assert.equal(now.master.reloads, before0.master.reloads, 'the master reload counter did not move');
    assert.deepEqual(workerPids(now), workerPids(before0), 'the same worker serves');
    assert.equal(readFileSync(file('a.example.test.pem'), 'utf8'), pemOf(a2), 'the file holds the new certificate for the next reload');
    a = a2;
  });

  it('refuses garbage PEM, a certificate without its key and a key that does not match its certificate (400), changing nothing', { timeout: 30_000 }, async () => {
    const bad: Array<[string, string, RegExp]> = [
      ['garbage', 'this is not a certificate\n', /not a PEM file: no -----BEGIN/],
      ['no key', a.cert, /the file holds no private key/],
      ['foreign key', `${a.cert}${b.key}`, /the private key does not match the certificate \(CN=a\.example\.test, serial [0-9A-F]+\)/],
    ];
    for (const [what, text, message] of bad) {
      await assert.rejects(dp.client.uploadSslCertificate('bad.pem', text), failsWith(400, message), what);
      await assert.rejects(dp.client.replaceSslCertificate('a.example.test.pem', text), failsWith(400, message), what);
    }
    assert.ok(!existsSync(file('bad.pem')));
    assert.equal(readFileSync(file('a.example.test.pem'), 'utf8'), pemOf(a));
    assert.equal((await served('a.example.test')).fingerprint, fingerprint(a));
    await assert.rejects(dp.client.createCrtList('bad.crtlist', 'a.example.test.pem\n'),
      failsWith(400, /crt-list line 1: 'a\.example\.test\.pem' is not a stored certificate: name one by its full path/));
    await assert.rejects(dp.client.createCrtList('bad.crtlist', `${file('a.example.test.pem')} [verify sometimes]\n`),
      failsWith(400, /crt-list refused by HAProxy: .*unknown verify method 'sometimes'/));
    assert.ok(!existsSync(file('bad.crtlist')));
  });

  it('refuses to delete a certificate or crt-list the bind uses (409), and deletes unused ones', { timeout: 30_000 }, async () => {
    await assert.rejects(dp.client.deleteSslCertificate('a.example.test.pem'),
      failsWith(409, /rejecting attempt to delete file \S+a\.example\.test\.pem listed in crt-list \S+edge\.crtlist, referenced in haproxy conf at line \d+: bind /));
    await assert.rejects(dp.client.deleteCrtList('edge.crtlist'), failsWith(409, /referenced in haproxy conf at line \d+: bind 127\.0\.0\.1/));
    assert.ok(existsSync(file('a.example.test.pem')) && existsSync(file('edge.crtlist')));

    const spare = ca.site(['spare.example.test']);
    assert.equal((await dp.client.uploadSslCertificate('spare.pem', pemOf(spare))).applied, 'runtime');
    const gone = await dp.client.deleteSslCertificate('spare.pem');
    assert.equal(gone.applied, 'runtime', 'an unused certificate is dropped at runtime');
    assert.ok(!existsSync(file('spare.pem')));
    await assert.rejects(dp.client.getSslCertificate('spare.pem'), failsWith(404, /doesn't exist/));
    assert.equal((await served('a.example.test')).fingerprint, fingerprint(a));
  });

  it('takes a replaced crt-list at a reload: the new first entry becomes the default', { timeout: 30_000 }, async () => {
    const reloads = (await dp.procState()).master.reloads;
    const r = await dp.client.replaceCrtList('edge.crtlist', `${file('b.example.test.pem')}\n${file('a.example.test.pem')}\n`);
    assert.equal(r.applied, 'reload');
    assert.ok(r.reloadId);
    assert.equal((await dp.client.waitForReload(r.reloadId)).status, 'succeeded');
    assert.ok((await dp.procState()).master.reloads > reloads);
    await waitFor('the reloaded HAProxy to default to b', async () => (await served('unknown.example.test')).fingerprint === fingerprint(b));
    assert.deepEqual(await served('b.example.test'), { fingerprint: fingerprint(b), alpn: 'h2' }, 'no per-line options any more');
    assert.equal((await served('a.example.test')).fingerprint, fingerprint(a), 'the replaced certificate survives the reload');
  });

  it('honours skip_reload (stored only) and force_reload (reloaded before the answer)', { timeout: 30_000 }, async () => {
    const reloads = async (): Promise<number> => (await dp.procState()).master.reloads;
    const n0 = await reloads();
    const spare = ca.site(['spare.example.test']);
    const stored = await dp.client.uploadSslCertificate('spare.pem', pemOf(spare), { skipReload: true });
    assert.deepEqual([stored.applied, stored.reloadId, stored.value?.storage_name], ['stored', undefined, 'spare.pem']);
    assert.equal(await reloads(), n0);
    const replaced = await dp.client.replaceSslCertificate('spare.pem', pemOf(ca.site(['spare.example.test'])), { forceReload: true });
    assert.deepEqual([replaced.applied, replaced.reloadId], ['reloaded', undefined]);
    assert.equal(await reloads(), n0 + 1, 'one reload, done before the answer');
    const list = await dp.client.createCrtList('spare.crtlist', `${file('spare.pem')}\n`, { forceReload: true });
    assert.equal(list.applied, 'reloaded');
    assert.equal(await reloads(), n0 + 2);
    assert.equal((await dp.client.deleteCrtList('spare.crtlist', { skipReload: true })).applied, 'stored');
    assert.equal((await dp.client.deleteSslCertificate('spare.pem', { skipReload: true })).applied, 'stored');
    assert.equal(await reloads(), n0 + 2);
    assert.ok(!existsSync(file('spare.pem')) && !existsSync(file('spare.crtlist')));
  });

  it('refuses at commit an SSL bind HAProxy cannot load, with HAProxy\'s reason', { timeout: 30_000 }, async () => {
    const version = await dp.client.getVersion();
    await assert.rejects(dp.client.transaction(async (tx) => {
      await dp.client.unwrap('bind', dp.client.api.POST('/services/haproxy/configuration/frontends/{parent_name}/binds', {
        params: { path: { parent_name: 'fe_tls' }, query: tx.query },
        body: { name: 'nocert', address: '127.0.0.1', port: await freePort(), ssl: true },
      }));
    }), failsWith(400, /validation error: .*no SSL certificate specified for bind/));
    assert.equal(await dp.client.getVersion(), version);
  });
});
