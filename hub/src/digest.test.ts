import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import { KeyDigest, OUT_OF_SYNC_BEATS } from './digest.js';

it('computes the digest a spoke puts in its heartbeat, and reports a difference only once it lasts', () => {
  const d = new KeyDigest();
  d.set('a.service.default.web', '12');
  d.set('a.endpoints.default.web', '7');
  d.set('a.ingress.default.web', '3');
  d.delete('a.ingress.default.web');
  // As spoke/src/publisher.ts digest(): sha256 over the sorted keys and revisions.
  const h = createHash('sha256');
  for (const k of ['a.endpoints.default.web', 'a.service.default.web']) h.update(`${k}=${k.includes('endpoints') ? '7' : '12'}\n`);
  const spoke = h.digest('hex');
  assert.equal(d.digest(), spoke);
  assert.equal(d.check(spoke), true);
  for (let i = 1; i < OUT_OF_SYNC_BEATS; i++) assert.equal(d.check('0'.repeat(64)), true, `beat ${i}: records may be in flight`);
  assert.equal(d.check('0'.repeat(64)), false);
  assert.equal(d.check(spoke), true, 'in sync again at once');
});
