// What the hub needs to know of a TLS certificate, and whether it may be served: its chain parses,
// the key matches the leaf, it is valid now, and which host names it covers.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';

/** At most this many certificates in a chain (leaf and intermediates). */
export const MAX_CHAIN = 8;

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** DNS names of the leaf's subjectAltName. */
  dnsNames: string[];
  notBefore: number;
  notAfter: number;
  /** SHA-256 fingerprint of the leaf (hex, colon-separated, as node:crypto gives it). */
  fingerprint: string;
  serialNumber: string;
}

export type CertificateCheck =
  | { ok: true; info: CertificateInfo; leaf: X509Certificate; key: KeyObject }
  | { ok: false; problem: string; info?: CertificateInfo };

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function infoOf(leaf: X509Certificate): CertificateInfo {
  const dnsNames = (leaf.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase());
  return {
    subject: leaf.subject.replace(/\n/g, ', '), issuer: leaf.issuer.replace(/\n/g, ', '), dnsNames,
    notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), fingerprint: leaf.fingerprint256, serialNumber: leaf.serialNumber,
  };
}

/** Parses a PEM chain (leaf first); answers the certificates or why they do not parse. */
export function parseChain(pem: string): X509Certificate[] | string {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) return 'tls.crt holds no PEM certificate';
  if (blocks.length > MAX_CHAIN) return `tls.crt holds ${blocks.length} certificates (at most ${MAX_CHAIN})`;
  const out: X509Certificate[] = [];
  for (const [i, b] of blocks.entries()) {
    try {
      out.push(new X509Certificate(b));
    } catch (err) {
      return `certificate ${i + 1} of tls.crt does not parse: ${(err as Error).message.slice(0, 200)}`;
    }
  }
  return out;
}

/**
 * Checks a certificate chain and its private key (PEM) for serving at `now`: both parse, the key is
 * not encrypted and matches the leaf, and the leaf is within its validity period.
 */
export function checkCertificate(chainPem: string, keyPem: string, now = Date.now()): CertificateCheck {
  const chain = parseChain(chainPem);
  if (typeof chain === 'string') return { ok: false, problem: chain };
  const leaf = chain[0] as X509Certificate;
  const info = infoOf(leaf);
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyPem)) return { ok: false, info, problem: 'tls.key is encrypted (HAProxy cannot load a key that needs a passphrase)' };
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, format: 'pem' });
  } catch (err) {
    return { ok: false, info, problem: `tls.key does not parse: ${(err as Error).message.slice(0, 200)}` };
  }
  if (!leaf.checkPrivateKey(key)) return { ok: false, info, problem: 'tls.key does not match the certificate in tls.crt' };
  if (now < info.notBefore) return { ok: false, info, problem: `the certificate is not valid before ${new Date(info.notBefore).toISOString()}` };
  if (now >= info.notAfter) return { ok: false, info, problem: `the certificate expired at ${new Date(info.notAfter).toISOString()}` };
  return { ok: true, info, leaf, key };
}

/** Whether the certificate is for `host` (its SANs, a wildcard covering exactly one label; RFC 6125). */
export function certificateCovers(leaf: X509Certificate, host: string): boolean {
  if (host.startsWith('*.')) {
    // A wildcard rule is covered by the same wildcard SAN only.
    return infoOf(leaf).dnsNames.includes(host.toLowerCase());
  }
  return leaf.checkHost(host, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false, singleLabelSubdomains: false }) !== undefined;
}
