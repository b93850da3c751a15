import { readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { badRequest, conflict } from './api-error.js';
import { writeFileAtomic } from './config-store.js';
import { checkCrtListFiles, parseCrtList } from './crt-list.js';
import type { CheckResult } from './haproxy-process.js';
import type { SslCertificate, SslCrtListFile } from './model.js';
import type { FormPart } from './multipart.js';
import type { Mutex } from './mutex.js';
import { certificateInfo, parseCertificateFile, type CertificateBundle } from './pem.js';
import type { ReloadAgent } from './reload-agent.js';
import { RuntimeCertError, type RuntimeCerts } from './runtime-certs.js';
import type { Reply } from './service.js';
import type { SslStorage } from './ssl-storage.js';

// /storage/ssl_certificates and /storage/ssl_crt_lists, with dataplaneapi v3.4's answers:
// - a certificate upload or replace goes to HAProxy through its runtime API when it can (201/200,
//   no reload), else a reload is scheduled (202 + Reload-ID);
// - a crt-list upload or replace always needs a reload: HAProxy 2.6 cannot swap a whole list at runtime;
// - skip_reload stores the file only; force_reload reloads before answering;
// - a file the configuration names is not deleted (409).

export interface StorageQuery {
  skip_reload: boolean;
  force_reload: boolean;
}

export interface TlsStorageDeps {
  storage: SslStorage;
  runtime: RuntimeCerts;
  reloads: ReloadAgent;
  /** The configuration lock: a delete's check and a commit's `haproxy -c` see the same files. */
  lock: Mutex;
  /** The current haproxy.cfg text. */
  configText: () => string;
  /** `haproxy -c -f <file>`. */
  check: (file: string) => Promise<CheckResult>;
  tmpDir: string;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const CERT_DESCRIPTION = 'managed SSL file';
const LIST_DESCRIPTION = 'managed certificate list';

function uploaded(part: FormPart | undefined): { name: string; data: Buffer } {
  if (part?.filename === undefined || part.filename === '') throw badRequest('a file_upload part with a filename is required');
  return { name: part.filename, data: part.data };
}

export class TlsStorage {
  private probeSeq = 0;

  constructor(private readonly d: TlsStorageDeps) {}

  // ---- certificates -----------------------------------------------------------------------------

  listCertificates(): Reply {
    const body = this.d.storage.list('certificate').map((f) => ({ file: f.file, description: CERT_DESCRIPTION, storage_name: f.name }));
    return { status: 200, body };
  }

  getCertificate(name: string): Reply {
    const file = this.d.storage.existing(name, 'certificate');
    const text = readFileSync(file, 'utf8');
    let bundle: CertificateBundle;
    try {
      bundle = parseCertificateFile(text);
    } catch {
      // A file put there by other means than this API: what it is, without what it says.
      return { status: 200, body: { file, description: CERT_DESCRIPTION, storage_name: name, size: Buffer.byteLength(text) } };
    }
    return { status: 200, body: this.describe(file, text, bundle) };
  }

  createCertificate(part: FormPart | undefined, q: StorageQuery): Promise<Reply> {
    const { name, data } = uploaded(part);
    const bundle = parseCertificateFile(data.toString('utf8'));
    return this.d.lock.run(async () => {
      const file = this.d.storage.create(name, data);
      const body = this.describe(file, data.toString('utf8'), bundle);
      return this.apply(q, 201, body, () => this.d.runtime.add(file, bundle.lines));
    });
  }

  /** PUT: the file is replaced on disk; a certificate HAProxy has loaded is swapped at runtime. */
  replaceCertificate(name: string, text: string, q: StorageQuery): Promise<Reply> {
    const bundle = parseCertificateFile(text);
    return this.d.lock.run(async () => {
      const file = this.d.storage.existing(name, 'certificate');
      this.d.storage.write(file, text);
      return this.apply(q, 200, this.describe(file, text, bundle), () => this.d.runtime.replace(file, bundle.lines));
    });
  }

  deleteCertificate(name: string, q: StorageQuery): Promise<Reply> {
    return this.d.lock.run(async () => {
      const file = this.d.storage.existing(name, 'certificate');
      this.refuseIfNamed(file);
      this.refuseIfListed(file);
      this.d.storage.delete(file);
      return this.apply(q, 204, undefined, () => this.d.runtime.remove(file));
    });
  }

  private describe(file: string, text: string, bundle: CertificateBundle): SslCertificate {
    return { file, description: CERT_DESCRIPTION, storage_name: basename(file), size: Buffer.byteLength(text), ...certificateInfo(bundle) };
  }

  // ---- crt-lists --------------------------------------------------------------------------------

  listCrtLists(): Reply {
    const body = this.d.storage.list('crt-list').map((f) => ({ file: f.file, description: LIST_DESCRIPTION, storage_name: f.name }));
    return { status: 200, body };
  }

  getCrtList(name: string): Reply {
    return { status: 200, data: this.d.storage.read(name, 'crt-list') };
  }

  /** POST: stored, then a reload (the spec has no skip_reload here; dataplaneapi always reloads). */
  createCrtList(part: FormPart | undefined, forceReload: boolean): Promise<Reply> {
    const { name, data } = uploaded(part);
    return this.d.lock.run(async () => {
      await this.checkCrtList(data.toString('utf8'));
      const file = this.d.storage.create(name, data);
      return this.apply({ skip_reload: false, force_reload: forceReload }, 201, this.listView(file, data.length));
    });
  }

  replaceCrtList(name: string, text: string, q: StorageQuery): Promise<Reply> {
    return this.d.lock.run(async () => {
      const file = this.d.storage.existing(name, 'crt-list');
      await this.checkCrtList(text);
      this.d.storage.write(file, text);
      return this.apply(q, 200, this.listView(file, Buffer.byteLength(text)));
    });
  }

  deleteCrtList(name: string, q: StorageQuery): Promise<Reply> {
    return this.d.lock.run(async () => {
      const file = this.d.storage.existing(name, 'crt-list');
      this.refuseIfNamed(file);
      this.d.storage.delete(file);
      return this.apply(q, 204, undefined);
    });
  }

  private listView(file: string, size: number): SslCrtListFile {
    return { file, description: LIST_DESCRIPTION, storage_name: basename(file), size };
  }

  /** Line by line, then HAProxy's own verdict on the list in a bind (ssl options included). */
  private async checkCrtList(text: string): Promise<void> {
    const entries = parseCrtList(text);
    checkCrtListFiles(entries, this.d.storage.dir, (f) => this.d.storage.isCertificate(f));
    if (entries.length > 0) await this.probeCrtList(text);
  }

  private async probeCrtList(text: string): Promise<void> {
    const base = join(this.d.tmpDir, `crt-list-check-${process.pid}-${++this.probeSeq}`);
    const list = `${base}.list`;
    const cfg = `${base}.cfg`;
    writeFileAtomic(list, text);
    // Never bound: `haproxy -c` parses and loads the certificates without listening.
    writeFileAtomic(cfg, ['global', 'defaults', '    mode http', '    timeout connect 5s', '    timeout client 5s',
      '    timeout server 5s', 'frontend crt_list_check', `    bind 127.0.0.1:65535 ssl crt-list ${list}`, ''].join('\n'));
    try {
      const res = await this.d.check(cfg);
      if (res.ok) return;
      const why = res.output.split('\n').filter((l) => !/Error\(s\) found|Fatal errors found/.test(l))
        .map((l) => l.replace(/^.*?'crt-list' : /, '').replaceAll(list, 'the crt-list')).join('; ');
      throw badRequest(`crt-list refused by HAProxy: ${why}`);
    } finally {
      rmSync(list, { force: true });
      rmSync(cfg, { force: true });
    }
  }

  // ---- shared -----------------------------------------------------------------------------------

  /**
   * skip_reload: stored only. force_reload: reloaded before the answer. Otherwise the runtime change,
   * if any, and a scheduled reload (202 + Reload-ID) when there is none or HAProxy refused it.
   */
  private async apply<T>(q: StorageQuery, okStatus: number, body: T, runtime?: () => Promise<void>): Promise<Reply> {
    if (q.skip_reload) return { status: okStatus, body };
    if (q.force_reload) {
      const rec = await this.d.reloads.forceNow();
      if (rec.status === 'failed') throw badRequest(`Reload failed: ${rec.response ?? ''}`);
      return { status: okStatus, body };
    }
    if (runtime) {
      try {
        await runtime();
        return { status: okStatus, body };
      } catch (err) {
        if (!(err instanceof RuntimeCertError)) throw err;
        this.d.log('info', 'certificate not changed at runtime; scheduling a reload', { error: err.message });
      }
    }
    return { status: 202, body, reloadId: this.d.reloads.schedule() };
  }

  /** 409 when a configuration line names the file: dataplaneapi's line scan. */
  private refuseIfNamed(file: string): void {
    const lines = this.d.configText().split('\n');
    const at = lines.findIndex((l) => l.includes(file) && !l.trim().startsWith('#'));
    if (at >= 0) {
      throw conflict(`rejecting attempt to delete file ${file} referenced in haproxy conf at line ${at + 1}: ${(lines[at] as string).trim()}`);
    }
  }

  /** 409 when a stored crt-list the configuration names lists the certificate (HAProxy would fail to reload). */
  private refuseIfListed(file: string): void {
    const lines = this.d.configText().split('\n');
    for (const [i, line] of lines.entries()) {
      for (const m of line.matchAll(/\bcrt-list (\S+)/g)) {
        const list = m[1] as string;
        if (dirname(list) !== this.d.storage.dir || !this.listNames(list, file)) continue;
        throw conflict(`rejecting attempt to delete file ${file} listed in crt-list ${list}, referenced in haproxy conf at line ${i + 1}: ${line.trim()}`);
      }
    }
  }

  private listNames(list: string, file: string): boolean {
    try {
      return parseCrtList(readFileSync(list, 'utf8')).some((e) => e.file === file);
    } catch {
      return false;
    }
  }
}
