import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkApiVersion } from './edge.js';
import { UnsupportedApiError } from './errors.js';
import { formatStamp, parseStamp } from './stamp.js';

describe('edge: API version check and the stamp', () => {
  it('accepts dataplaneapi v3.3.6 and newer v3 releases, refuses older ones and other majors with a clear error', () => {
    for (const v of ['v3.4.2 8c7bce5', 'v3.3.6 abc1234.dev', 'v3.5.0 1', '3.4.0']) assert.doesNotThrow(() => checkApiVersion('e', v), v);
    for (const v of ['v3.3.1 1234567', 'v3.2.0 6d654c5.dev', 'v2.9.1 x', 'v4.0.0 y', 'dataplaneapi', '']) {
      assert.throws(() => checkApiVersion('e', v), (err: unknown) => err instanceof UnsupportedApiError && /needs dataplaneapi v3\.3\.6 or newer/.test(err.message), v);
    }
  });

  it('writes and reads the stamp: config hash and fence, anything else ignored', () => {
    const d = formatStamp({ config: 'ab'.repeat(16), fence: 7 });
    assert.equal(d, `ingressfed config=${'ab'.repeat(16)} fence=7`);
    assert.deepEqual(parseStamp(d), { config: 'ab'.repeat(16), fence: 7 });
    assert.deepEqual(parseStamp('ingressfed  fence=3'), { config: undefined, fence: 3 }, 'whitespace collapsed on read');
    assert.deepEqual(parseStamp('operator text fence=9'), { config: undefined, fence: undefined });
    assert.deepEqual(parseStamp(undefined), { config: undefined, fence: undefined });
  });
});
