// Sealing private keys to the hub: what a spoke publishes of a TLS Secret's key is readable by the
// hub alone, and only for the record it was sealed for. NATS, the state bucket and every other
// cluster see ciphertext.
//
// Scheme (an ECIES over X25519, as in HPKE's base mode): for each sealed value the spoke makes an
// ephemeral X25519 key pair; the X25519 agreement between it and the hub's public key, through
// HKDF-SHA256 (salt: the ephemeral public key and the hub's public key; info: SEAL_INFO), gives a
// 256-bit key for AES-256-GCM with a random 96-bit nonce. The additional authenticated data binds the
// ciphertext to the record's identity (cluster, namespace, name): a sealed key copied into another
// record, of the same cluster or another, does not open. `kid` names the hub key it was sealed to
// (the first 16 bytes of the SHA-256 of its SubjectPublicKeyInfo), so the hub can hold several
// keys during a rotation.
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import type { Static } from 'typebox';
import { IngressfedError } from './errors.js';
import type { SealedKey } from './records.js';

export const SEAL_ALG = 'X25519-HKDF-SHA256-A256GCM';
const SEAL_INFO = 'ingressfed sealed private key v1';

/** A sealed value as records carry it (base64 fields; the schema is SealedKey in records.ts). */
export type Sealed = Static<typeof SealedKey>;

/** What a sealed value is bound to: opened for anything else, it fails. */
export interface SealBinding {
  cluster: string;
  namespace: string;
  name: string;
}

const aadOf = (b: SealBinding): Buffer => Buffer.from(`${SEAL_ALG}\n${b.cluster}\n${b.namespace}\n${b.name}`, 'utf8');

/** The raw 32 bytes of an X25519 public key. */
function rawX25519(pub: KeyObject): Buffer {
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'X25519' || typeof jwk.x !== 'string') throw new IngressfedError('INGRESSFED_ERR_SEAL', 'the sealing key is not an X25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

const fromRaw = (raw: Buffer): KeyObject => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });

/** The key id of an X25519 public key. */
export function sealKeyId(pub: KeyObject): string {
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest().subarray(0, 16).toString('base64url');
}

function keyFor(shared: Buffer, epk: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([epk, recipient]), SEAL_INFO, 32));
}

/** Seals `plaintext` to the hub's public key, for the record `binding`. */
export function seal(plaintext: Buffer, hubPublicKey: KeyObject, binding: SealBinding): Sealed {
  const recipient = rawX25519(hubPublicKey);
  const eph = generateKeyPairSync('x25519');
  const epk = rawX25519(eph.publicKey);
  const key = keyFor(diffieHellman({ privateKey: eph.privateKey, publicKey: hubPublicKey }), epk, recipient);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aadOf(binding));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { alg: SEAL_ALG, kid: sealKeyId(hubPublicKey), epk: epk.toString('base64'), iv: iv.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/**
 * Opens a sealed value with whichever of the hub's private keys it was sealed to. Throws an
 * IngressfedError (INGRESSFED_ERR_SEAL) saying why: an unknown key id, or a value that does not open
 * (altered, or sealed for another record).
 */
export function openSealed(sealed: Sealed, hubPrivateKeys: readonly KeyObject[], binding: SealBinding): Buffer {
  if (sealed.alg !== SEAL_ALG) throw new IngressfedError('INGRESSFED_ERR_SEAL', `unknown sealing algorithm '${String(sealed.alg).slice(0, 40)}'`);
  const priv = hubPrivateKeys.find((k) => sealKeyId(createPublicKey(k)) === sealed.kid);
  if (!priv) throw new IngressfedError('INGRESSFED_ERR_SEAL', `sealed to a hub key this hub does not hold (kid ${sealed.kid.slice(0, 32)}); give the hub that key, or the spoke the hub's current public key`);
  const epk = Buffer.from(sealed.epk, 'base64');
  if (epk.length !== 32) throw new IngressfedError('INGRESSFED_ERR_SEAL', 'the sealed value\'s ephemeral key is not 32 bytes');
  try {
    const key = keyFor(diffieHellman({ privateKey: priv, publicKey: fromRaw(epk) }), epk, rawX25519(createPublicKey(priv)));
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(aadOf(binding));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]);
  } catch (err) {
    throw new IngressfedError('INGRESSFED_ERR_SEAL', 'the sealed private key does not open: altered, or sealed for another record', { cause: err });
  }
}

/** A new hub sealing key pair, as PEM (PKCS#8 private key, SPKI public key). */
export function newSealingKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Reads a hub sealing key (private, PEM); throws saying what is wrong. */
export function sealingPrivateKey(pem: string): KeyObject {
  const k = createPrivateKey(pem);
  if (k.asymmetricKeyType !== 'x25519') throw new IngressfedError('INGRESSFED_ERR_SEAL', `the hub's sealing key must be an X25519 key, not ${k.asymmetricKeyType ?? 'unknown'}`);
  return k;
}

/** Reads the hub's sealing public key (PEM) as a spoke does; throws saying what is wrong. */
export function sealingPublicKey(pem: string): KeyObject {
  const k = createPublicKey(pem);
  if (k.asymmetricKeyType !== 'x25519') throw new IngressfedError('INGRESSFED_ERR_SEAL', `the hub's sealing public key must be an X25519 key, not ${k.asymmetricKeyType ?? 'unknown'}`);
  return k;
}
