import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

// A self-signed certificate for the HTTPS frontend's default: what a client that names no host the
// edge serves (or an unknown one) is shown, instead of some cluster's certificate and its host names.
// node:crypto parses certificates but does not make them, so the DER is written here: an X.509 v3
// certificate with an EC P-256 key, signed ECDSA with SHA-256, its subject a fixed common name and
// no host name at all.

const der = (tag: number, body: Buffer): Buffer => {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
};
const seq = (...parts: Buffer[]): Buffer => der(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => der(0x31, Buffer.concat(parts));
/** An INTEGER from unsigned big-endian bytes (a leading zero keeps it positive). */
const int = (bytes: Buffer): Buffer => der(0x02, (bytes[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const oid = (dotted: string): Buffer => {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const v of rest) {
    const stack = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) stack.unshift((x & 0x7f) | 0x80);
    out.push(...stack);
  }
  return der(0x06, Buffer.from(out));
};
const utf8 = (s: string): Buffer => der(0x0c, Buffer.from(s, 'utf8'));
/** GeneralizedTime (valid for every year, unlike UTCTime). */
const time = (d: Date): Buffer => der(0x18, Buffer.from(`${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`, 'ascii'));
const bitString = (bytes: Buffer): Buffer => der(0x03, Buffer.concat([Buffer.from([0]), bytes]));

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const COMMON_NAME = '2.5.4.3';

/** A self-signed certificate and its key (PEM), valid from a day ago for `days`, with `commonName` as subject and issuer. */
export function selfSignedCertificate(commonName: string, days = 3650, now = new Date()): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const name = seq(set(seq(oid(COMMON_NAME), utf8(commonName))));
  const notBefore = new Date(now.getTime() - 86_400_000);
  const notAfter = new Date(now.getTime() + days * 86_400_000);
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const tbs = seq(
    der(0xa0, int(Buffer.from([2]))), // version 3
    int(serial),
    ECDSA_SHA256,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certDer = seq(tbs, ECDSA_SHA256, bitString(signature));
  const cert = `-----BEGIN CERTIFICATE-----\n${certDer.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  // Parsed back: what node:crypto (and so HAProxy's OpenSSL) reads is checked before it is used.
  const parsed = new X509Certificate(cert);
  if (!parsed.verify(publicKey) || !parsed.checkPrivateKey(createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })))) {
    throw new Error('the self-signed certificate made does not verify');
  }
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
