import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

/** A certificate and its key, as files and as PEM text. */
export interface CertFiles {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** A test certificate authority: its own certificate, and server or client certificates it signs. */
export interface TestCa {
  dir: string;
  caFile: string;
  ca: string;
  /** A server certificate for 127.0.0.1, ::1 and localhost (plus `names`). */
  server(name: string, names?: string[]): CertFiles;
  /**
   * A server certificate for these host names only (no addresses), whose common name is the first:
   * what an edge serves by SNI. Each call makes a new key, so the same names again give a replacement.
   */
  site(hosts: string[]): CertFiles;
  /** A client certificate whose subject common name is `commonName`. */
  client(commonName: string): CertFiles;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Makes a fresh CA with openssl (EC P-256, one day) in a temporary directory. Every certificate the
 * TLS tests use is made here, so nothing depends on files kept in the repository.
 */
export function makeTestCa(prefix = 'ca'): TestCa {
  const dir = tempDir(`tls-${prefix}`);
  const d = dir.path;
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', `/CN=ingressfed test CA ${prefix}`, '-keyout', 'ca.key', '-out', 'ca.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], d);
  let serial = 1;
  let sites = 0;
  const issue = (name: string, subject: string, ext: string[]): CertFiles => {
    const keyFile = join(d, `${name}.key`);
    const certFile = join(d, `${name}.crt`);
    const extFile = join(d, `${name}.ext`);
    writeFileSync(extFile, `${ext.join('\n')}\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', subject, '-keyout', keyFile, '-out', join(d, `${name}.csr`)], d);
    openssl(['x509', '-req', '-in', join(d, `${name}.csr`), '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(++serial),
      '-days', '1', '-extfile', extFile, '-out', certFile], d);
    return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  };
  return {
    dir: d,
    caFile: join(d, 'ca.crt'),
    ca: readFileSync(join(d, 'ca.crt'), 'utf8'),
    server: (name, names = []) => issue(name, `/CN=${name}`, [
      'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth',
      `subjectAltName=${['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', ...names.map((n) => `DNS:${n}`)].join(',')}`,
    ]),
    site: (hosts) => {
      if (hosts.length === 0) throw new Error('a site certificate needs at least one host name');
      return issue(`site-${++sites}-${hosts[0] as string}`, `/CN=${hosts[0] as string}`, [
        'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth',
        `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}`,
      ]);
    },
    client: (commonName) => issue(`client-${commonName}`, `/CN=${commonName}`, [
      'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth',
    ]),
    remove: dir.remove,
  };
}
