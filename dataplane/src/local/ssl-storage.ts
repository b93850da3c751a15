import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { conflict, notFound } from './api-error.js';
import { writeFileAtomic } from './config-store.js';
import { FILE_NAME, storedPath } from './map-storage.js';
import { looksLikeCertificate } from './pem.js';

// Certificate files and crt-lists on disk, in one directory as dataplaneapi keeps them (its
// ssl_certs_dir): what /storage/ssl_certificates and /storage/ssl_crt_lists list, create, replace
// and delete. A file is a certificate when it holds a PEM certificate; anything else there is a crt-list.

export type SslFileKind = 'certificate' | 'crt-list';

const LABEL: Record<SslFileKind, string> = { certificate: 'SSL certificate', 'crt-list': 'certificate list' };

export class SslStorage {
  /** Absolute: the paths a configuration and a crt-list name the files by. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    mkdirSync(this.dir, { recursive: true });
  }

  /** The path of a stored file by its name, the name checked first. */
  path(name: string): string {
    return storedPath(this.dir, name, 'file');
  }

  kindOf(file: string): SslFileKind {
    return looksLikeCertificate(readFileSync(file, 'utf8')) ? 'certificate' : 'crt-list';
  }

  /** The stored files of one kind: name, full path and size, by name. */
  list(kind: SslFileKind): Array<{ name: string; file: string; size: number }> {
    return readdirSync(this.dir, { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.includes('.tmp-'))
      .map((e) => join(this.dir, e.name))
      .filter((file) => this.kindOf(file) === kind)
      .sort()
      .map((file) => ({ name: file.slice(this.dir.length + 1), file, size: statSync(file).size }));
  }

  /** The path of a stored file of this kind; 404 when there is none. */
  existing(name: string, kind: SslFileKind): string {
    const file = this.path(name);
    if (!existsSync(file) || this.kindOf(file) !== kind) {
      throw notFound(`${LABEL[kind]} ${name} doesn't exist in dir: ${this.dir}`);
    }
    return file;
  }

  /** Whether `file` (a full path) is a certificate of this storage. */
  isCertificate(file: string): boolean {
    return dirname(file) === this.dir && FILE_NAME.test(file.slice(this.dir.length + 1)) && existsSync(file) && this.kindOf(file) === 'certificate';
  }

  /** Writes a new file; 409 if one by that name exists (of either kind). */
  create(name: string, data: string | Buffer): string {
    const file = this.path(name);
    if (existsSync(file)) throw conflict(`file ${file} already exists`);
    writeFileAtomic(file, data);
    return file;
  }

  write(file: string, data: string | Buffer): void {
    writeFileAtomic(file, data);
  }

  read(name: string, kind: SslFileKind): Buffer {
    return readFileSync(this.existing(name, kind));
  }

  delete(file: string): void {
    rmSync(file, { force: true });
  }
}

