import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DataPlaneClient, DataPlaneError } from '@ingressfed/dataplane';
import { makeTestCa, startLocalDataPlane, tempDir, type LocalDataPlane, type TestCa } from '@ingressfed/tests/harness';

// The Data Plane API over HTTPS, with certificates made by a test CA: the client trusts only the CA
// it is given, and every TLS failure is INGRESSFED_ERR_DPAPI_TLS saying what failed.

const BIN = fileURLToPath(new URL('../../../dataplane/bin/ingressfed-dataplane-local.mjs', import.meta.url));

/** Asserts a DataPlaneError with `code` whose message matches `message`. */
function failsWith(code: string, message: RegExp): (err: unknown) => true {
  return (err: unknown) => {
    assert.ok(err instanceof DataPlaneError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  };
}

describe('dataplane: HTTPS', { timeout: 60_000 }, () => {
  let ca: TestCa;
  let other: TestCa;
  let dp: LocalDataPlane;
  let plain: LocalDataPlane;
  const client = (url: string, extra: { ca?: string; timeoutMs?: number } = {}): DataPlaneClient =>
    new DataPlaneClient({ url, username: dp.username, password: dp.password, ...extra });

  before(async () => {
    ca = makeTestCa('dpapi');
    other = makeTestCa('other');
    [dp, plain] = await Promise.all([startLocalDataPlane({ tls: ca }), startLocalDataPlane()]);
  });
  after(async () => {
    await Promise.all([dp?.stop(), plain?.stop()]);
    ca?.remove();
    other?.remove();
  });

  it('serves HTTPS: a client given the CA reads the version and commits a transaction', async () => {
    assert.match(dp.url, /^https:\/\//);
    assert.match(await dp.process.waitForLine(/"msg":"listening"/), /"url":"https:\/\/127\.0\.0\.1:\d+"/);
    assert.equal(dp.ca, ca.ca);
    const v = await dp.client.getVersion();
    const out = await dp.client.transaction(async (tx) => {
      await dp.client.unwrap('create backend', dp.client.api.POST('/services/haproxy/configuration/backends', {
        params: { query: tx.query }, body: { name: 'be_over_tls', mode: 'http' },
      }));
    });
    assert.equal(out.version, v + 1);
    assert.equal(out.reload?.status, 'succeeded');
    const { data } = await dp.client.unwrap('list backends', dp.client.api.GET('/services/haproxy/configuration/backends'));
    assert.ok(data.some((b) => b.name === 'be_over_tls'));
  });

  it('refuses the server without the CA (default trust store), naming the certificate problem', async () => {
    await assert.rejects(client(dp.url).getVersion(),
      failsWith('INGRESSFED_ERR_DPAPI_TLS', /certificate not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: .*\): give the edge's caFile/));
  });

  it('refuses the server when the given CA is another one', async () => {
    await assert.rejects(client(dp.url, { ca: other.ca }).getVersion(),
      failsWith('INGRESSFED_ERR_DPAPI_TLS', /certificate not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: /));
  });

  it('says so when an https:// url reaches a server that speaks plain HTTP', async () => {
    await assert.rejects(client(plain.url.replace(/^http:/, 'https:'), { ca: ca.ca }).getVersion(),
      failsWith('INGRESSFED_ERR_DPAPI_TLS', /does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER\)/));
  });

  it('answers plain http:// on the HTTPS port at once with an error that says to use https://', async () => {
    const timeoutMs = 3000;
    const started = Date.now();
    await assert.rejects(client(dp.url.replace(/^https:/, 'http:'), { timeoutMs }).getVersion(),
      failsWith('INGRESSFED_ERR_DPAPI_TLS', /the server speaks HTTPS, and plain HTTP was sent: use an https:\/\/ url/));
    assert.ok(Date.now() - started < timeoutMs, `answered after ${Date.now() - started} ms`);
  });

  describe('the CLI', () => {
    const run = (args: string[]): Promise<{ code: number; err: string }> => new Promise((resolve) => {
      const dir = tempDir('dataplane-cli');
      execFile(process.execPath, [BIN, '--workdir', dir.path, '--listen', '127.0.0.1:0', ...args],
        { env: { ...process.env, INGRESSFED_DPAPI_PASSWORD: 'x' }, timeout: 20_000 }, (error, _out, stderr) => {
          dir.remove();
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, err: stderr });
        });
    });

    it('refuses --tls-cert without --tls-key', async () => {
      const r = await run(['--tls-cert', ca.caFile]);
      assert.equal(r.code, 2);
      assert.match(r.err, /--tls-cert and --tls-key go together: give both, or neither/);
    });

    it('refuses a certificate file it cannot read, naming it', async () => {
      const missing = `${ca.dir}/no-such.crt`;
      const r = await run(['--tls-cert', missing, '--tls-key', ca.caFile]);
      assert.equal(r.code, 2);
      assert.ok(r.err.includes(`--tls-cert ${missing}: cannot read it`), r.err);
    });
  });
});
