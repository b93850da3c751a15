import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from './api-error.js';
import { checkCrtListFiles, parseCrtList } from './crt-list.js';

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) return err.message;
    throw err;
  }
  assert.fail('expected a 400');
};

describe('crt-list: lines as HAProxy reads them', () => {
  it('reads the certificate, the bracketed ssl options and the SNI filters of each line, skipping comments and blanks', () => {
    const text = '# edge certificates\n/s/a.pem\n\n/s/b.pem [alpn h2,http/1.1 ssl-min-ver TLSv1.2] b.example.test *.b.example.test !old.b.example.test\r\n/s/c.pem c.example.test\n';
    assert.deepEqual(parseCrtList(text), [
      { line_number: 2, file: '/s/a.pem', sni_filter: [] },
      { line_number: 4, file: '/s/b.pem', ssl_bind_config: 'alpn h2,http/1.1 ssl-min-ver TLSv1.2', sni_filter: ['b.example.test', '*.b.example.test', '!old.b.example.test'] },
      { line_number: 5, file: '/s/c.pem', sni_filter: ['c.example.test'] },
    ]);
  });

  it('refuses lines HAProxy would refuse, naming the line', () => {
    assert.match(refusal(() => parseCrtList('/s/a.pem\n/s/b.pem [alpn h2\n')), /^crt-list line 2: expected '<certificate file> \[\[ssl options\]\] \[sni filters\]'/);
    assert.match(refusal(() => parseCrtList('/s/a.pem a..example.test\n')), /^crt-list line 1: SNI filter 'a\.\.example\.test' is not a host name/);
    assert.match(refusal(() => parseCrtList('/s/a.pem ex*ample.test\n')), /SNI filter 'ex\*ample\.test'/);
    assert.match(refusal(() => parseCrtList('/s/a.pem\u0000\n')), /^crt-list line 1: contains a control character/);
    assert.match(refusal(() => parseCrtList('/s/a.pem [verify none] [alpn h2]\n')), /^crt-list line 1: expected/);
  });

  it('accepts only certificates of the storage directory, by full path', () => {
    const stored = new Set(['/s/a.pem']);
    checkCrtListFiles(parseCrtList('/s/a.pem\n'), '/s', (f) => stored.has(f));
    assert.match(refusal(() => checkCrtListFiles(parseCrtList('/s/a.pem\na.pem\n'), '/s', (f) => stored.has(f))),
      /^crt-list line 2: 'a\.pem' is not a stored certificate: name one by its full path in \/s/);
  });
});
