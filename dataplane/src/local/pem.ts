import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { badRequest } from './api-error.js';
import type { SslCertificate } from './model.js';

// What HAProxy loads from a `crt` file: the certificate, its chain, and the private key of the first
// certificate, all PEM in one file. A file is checked here before it is stored or sent to HAProxy,
// so a bad upload is a 400 that says what is wrong rather than a failed reload later.

/** One `-----BEGIN X-----` … `-----END X-----` block, re-serialised without blank lines. */
interface PemBlock {
  type: string;
  text: string;
}

/** A certificate file that passed the checks: its certificates (leaf first) and its key. */
export interface CertificateBundle {
  certs: X509Certificate[];
  key: KeyObject;
  /** The PEM blocks, one line per element, no empty line: what the runtime API payload carries. */
  lines: string[];
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----([\s\S]*?)-----END \1-----/g;
const KEY_TYPES = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'DSA PRIVATE KEY']);
/** Blocks HAProxy reads from a certificate file besides certificates and keys. */
const OTHER_TYPES = new Set(['DH PARAMETERS', 'EC PARAMETERS']);

function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const type = m[1] as string;
    const body = (m[2] as string).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    if (body.some((l) => /^Proc-Type:.*ENCRYPTED/.test(l))) {
      throw badRequest('the private key is encrypted: HAProxy cannot load it without its passphrase');
    }
    if (body.some((l) => !/^[A-Za-z0-9+/=]+$/.test(l))) {
      throw badRequest(`the PEM block '${type}' holds characters that are not base64`);
    }
    out.push({ type, text: [`-----BEGIN ${type}-----`, ...body, `-----END ${type}-----`].join('\n') });
  }
  return out;
}

function parseCert(block: PemBlock, index: number): X509Certificate {
  try {
    return new X509Certificate(block.text);
  } catch (err) {
    throw badRequest(`certificate ${index + 1} of the file does not parse: ${(err as Error).message}`);
  }
}

function parseKey(block: PemBlock): KeyObject {
  try {
    return createPrivateKey(block.text);
  } catch (err) {
    throw badRequest(`the private key does not parse: ${(err as Error).message}`);
  }
}

/**
 * Checks a certificate file as HAProxy needs it: at least one certificate, exactly one unencrypted
 * private key, and that key belonging to the first certificate. Throws a 400 saying what is wrong.
 */
export function parseCertificateFile(text: string): CertificateBundle {
  const blocks = pemBlocks(text);
  if (blocks.length === 0) {
    throw badRequest('not a PEM file: no -----BEGIN ...----- block found; HAProxy needs the certificate and its private key, PEM, in one file');
  }
  if (blocks.some((b) => b.type === 'ENCRYPTED PRIVATE KEY')) {
    throw badRequest('the private key is encrypted: HAProxy cannot load it without its passphrase');
  }
  const unknown = blocks.find((b) => b.type !== 'CERTIFICATE' && !KEY_TYPES.has(b.type) && !OTHER_TYPES.has(b.type));
  if (unknown) throw badRequest(`unexpected PEM block '${unknown.type}': a certificate file holds CERTIFICATE blocks and one private key`);
  const certBlocks = blocks.filter((b) => b.type === 'CERTIFICATE');
  const keyBlocks = blocks.filter((b) => KEY_TYPES.has(b.type));
  if (certBlocks.length === 0) throw badRequest('the file holds no certificate: HAProxy needs the certificate and its private key in one file');
  if (keyBlocks.length === 0) throw badRequest('the file holds no private key: HAProxy needs the certificate and its private key in one file');
  if (keyBlocks.length > 1) throw badRequest(`the file holds ${keyBlocks.length} private keys: it must hold only the key of its first certificate`);
  const certs = certBlocks.map(parseCert);
  const key = parseKey(keyBlocks[0] as PemBlock);
  const leaf = certs[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key)) {
    throw badRequest(`the private key does not match the certificate (${oneLine(leaf.subject)}, serial ${leaf.serialNumber})`);
  }
  return { certs, key, lines: blocks.flatMap((b) => b.text.split('\n')) };
}

/** Whether a stored file's text is a certificate file (a crt-list, beside it, is not). */
export const looksLikeCertificate = (text: string): boolean => text.includes('-----BEGIN CERTIFICATE-----');

const oneLine = (dn: string): string => dn.split('\n').filter(Boolean).join(', ');
const commonName = (dn: string): string | undefined => /^CN=(.*)$/m.exec(dn)?.[1];

/** The `DNS:` and `IP Address:` entries of a subjectAltName. */
function altNames(cert: X509Certificate): { dns: string[]; ips: string[] } {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) dns.push(part.slice(4));
    else if (part.startsWith('IP Address:')) ips.push(part.slice(11));
  }
  return { dns, ips };
}

/**
 * What the storage answers about a certificate file, as client-native reads it: the earliest
 * not_after and latest not_before of its certificates, the issuers' common names, and the names and
 * addresses of its non-CA certificates; subject and serial are the first certificate's.
 */
export function certificateInfo(bundle: CertificateBundle): SslCertificate {
  const dns = new Set<string>();
  const ips = new Set<string>();
  const issuers = new Set<string>();
  let notAfter = Infinity;
  let notBefore = -Infinity;
  for (const c of bundle.certs) {
    notAfter = Math.min(notAfter, Date.parse(c.validTo));
    notBefore = Math.max(notBefore, Date.parse(c.validFrom));
    const issuer = commonName(c.issuer);
    if (issuer !== undefined) issuers.add(issuer);
    if (c.ca) continue;
    const cn = commonName(c.subject);
    if (cn !== undefined) dns.add(cn);
    const alt = altNames(c);
    alt.dns.forEach((d) => dns.add(d));
    alt.ips.forEach((i) => ips.add(i));
  }
  const leaf = bundle.certs[0] as X509Certificate;
  return {
    not_after: new Date(notAfter).toISOString(),
    not_before: new Date(notBefore).toISOString(),
    issuers: [...issuers].join(', '),
    subject: oneLine(leaf.subject),
    serial: leaf.serialNumber,
    sha1_finger_print: leaf.fingerprint.replaceAll(':', ''),
    sha256_finger_print: leaf.fingerprint256.replaceAll(':', ''),
    subject_alternative_names: leaf.subjectAltName ?? '',
    ...(dns.size > 0 ? { domains: [...dns].join(', ') } : {}),
    ...(ips.size > 0 ? { ip_addresses: [...ips].join(', ') } : {}),
  };
}
