import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { IngressfedError } from './errors.js';
import { newSealingKeyPair, openSealed, seal, sealKeyId, sealingPrivateKey, sealingPublicKey, type Sealed } from './seal.js';

const keyPair = () => {
  const { privateKeyPem, publicKeyPem } = newSealingKeyPair();
  return { priv: sealingPrivateKey(privateKeyPem), pub: sealingPublicKey(publicKeyPem) };
};
const binding = { cluster: 'alpha', namespace: 'shop', name: 'tls-web' };
const secret = Buffer.from('-----BEGIN PRIVATE KEY-----\nnot really a key\n-----END PRIVATE KEY-----\n');

const refused = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (err: unknown) => err instanceof IngressfedError && err.code === 'INGRESSFED_ERR_SEAL' && message.test(err.message));
};

describe('sealing private keys to the hub', () => {
  it('opens with the hub key it was sealed to, for the record it was sealed for', () => {
    const hub = keyPair();
    const sealed = seal(secret, hub.pub, binding);
    assert.equal(sealed.kid, sealKeyId(hub.pub));
    assert.ok(!Buffer.from(sealed.ct, 'base64').includes(Buffer.from('not really a key')), 'the plaintext is not in the ciphertext');
    assert.deepEqual(openSealed(sealed, [hub.priv], binding), secret);
  });

  it('seals anew each time (a fresh ephemeral key and nonce)', () => {
    const hub = keyPair();
    const a = seal(secret, hub.pub, binding);
    const b = seal(secret, hub.pub, binding);
    assert.notEqual(a.epk, b.epk);
    assert.notEqual(a.ct, b.ct);
  });

  it('does not open for another record: another cluster, namespace or name', () => {
    const hub = keyPair();
    const sealed = seal(secret, hub.pub, binding);
    for (const other of [{ ...binding, cluster: 'beta' }, { ...binding, namespace: 'other' }, { ...binding, name: 'tls-other' }]) {
      refused(() => openSealed(sealed, [hub.priv], other), /sealed for another record/);
    }
  });

  it('does not open when any part was altered', () => {
    const hub = keyPair();
    const sealed = seal(secret, hub.pub, binding);
    const flip = (b64: string): string => {
      const b = Buffer.from(b64, 'base64');
      b[0] = (b[0] as number) ^ 1;
      return b.toString('base64');
    };
    for (const field of ['ct', 'tag', 'iv', 'epk'] as const) {
      refused(() => openSealed({ ...sealed, [field]: flip(sealed[field]) }, [hub.priv], binding), /does not open/);
    }
  });

  it('names the key it needs when the hub does not hold it, and opens with either key during a rotation', () => {
    const old = keyPair();
    const next = keyPair();
    const sealed = seal(secret, old.pub, binding);
    refused(() => openSealed(sealed, [next.priv], binding), new RegExp(`kid ${sealed.kid}`));
    assert.deepEqual(openSealed(sealed, [next.priv, old.priv], binding), secret);
    assert.deepEqual(openSealed(seal(secret, next.pub, binding), [next.priv, old.priv], binding), secret);
  });

  it('refuses keys that are not X25519 and unknown algorithms', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    refused(() => sealingPrivateKey(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), /X25519/);
    refused(() => sealingPublicKey(ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()), /X25519/);
    const hub = keyPair();
    refused(() => openSealed({ ...seal(secret, hub.pub, binding), alg: 'rot13' } as unknown as Sealed, [hub.priv], binding), /unknown sealing algorithm/);
    // The PEM of the pair round-trips through node:crypto.
    assert.equal(sealKeyId(createPublicKey(createPrivateKey(hub.priv.export({ type: 'pkcs8', format: 'pem' })))), sealKeyId(hub.pub));
  });
});
