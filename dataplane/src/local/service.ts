import { BlockList, isIP } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, badRequest, conflict, notFound, notImplemented } from './api-error.js';
import { ConfigStore, writeFileAtomic } from './config-store.js';
import { HaproxyProcess } from './haproxy-process.js';
import { MapStorage } from './map-storage.js';
import { Mutex } from './mutex.js';
import { spawn } from 'node:child_process';
import { cloneModel, type ConfigModel, type Reload, type Server, type VersionedConfig } from './model.js';
import { ReloadAgent } from './reload-agent.js';
import { missingFields, multiWordFields, unsupportedFields } from './render.js';
import { RuntimeClient } from './runtime.js';
import { RuntimeMaps } from './runtime-maps.js';
import { RuntimeCerts } from './runtime-certs.js';
import { SslStorage } from './ssl-storage.js';
import { TlsStorage } from './tls-storage.js';
import { TransactionStore, txView, type TransactionStatus } from './transaction-store.js';

type Obj = Record<string, unknown>;

export interface Reply {
  status: number;
  body?: unknown;
  /** A text/plain answer instead of JSON. */
  text?: string;
  /** An application/octet-stream answer instead of JSON. */
  data?: Buffer;
  /** The version for the Configuration-Version header; defaults to the current version. */
  version?: number;
  reloadId?: string;
}

export interface WriteQuery {
  transaction_id?: string;
  version?: number;
  force_reload?: boolean;
}

export type WriteKind = 'create' | 'replace' | 'delete';

export interface ServiceOptions {
  workdir: string;
  haproxyBin: string;
  reloadDelayMs: number;
  maxOpenTransactions: number;
  /** Write HAProxy's HTTP logs to the server's output. */
  haproxyHttpLog?: boolean;
  /** A command run after `haproxy -c` (as dataplaneapi's validate_cmd); non-zero refuses the configuration. */
  validateCmd?: string;
  /** Where map files are stored (dataplaneapi's maps_dir); `<workdir>/maps` by default. */
  mapsDir?: string;
  /** Where certificates and crt-lists are stored (dataplaneapi's ssl_certs_dir); `<workdir>/ssl` by default. */
  sslCertsDir?: string;
  /** Networks HAProxy may bind in; binds elsewhere are refused. */
  bindAllow: BlockList;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Obj) => void;
}

/** Defaults of dataplaneapi's configuration, except the bind allowlist which is loopback only here. */
export function loopbackOnly(): BlockList {
  const b = new BlockList();
  b.addSubnet('127.0.0.0', 8, 'ipv4');
  b.addAddress('::1', 'ipv6');
  return b;
}

/**
 * The behaviour of the local Data Plane API server: configuration versions, transactions, reloads
 * and runtime changes, following dataplaneapi v3.4 (see shared BEHAVIOUR.md). HTTP concerns live in
 * server.ts; this module speaks in replies and ApiErrors.
 */
export class DataPlaneService {
  readonly store: ConfigStore;
  readonly transactions: TransactionStore;
  readonly haproxy: HaproxyProcess;
  readonly runtime: RuntimeClient;
  readonly reloads: ReloadAgent;
  readonly maps: MapStorage;
  readonly runtimeMaps: RuntimeMaps;
  readonly ssl: SslStorage;
  /** The certificate and crt-list storage operations. */
  readonly tls: TlsStorage;
  readonly statsSocket: string;
  readonly masterSocket: string;
  /** Serialises configuration writes, as dataplaneapi serialises commits. */
  private readonly lock = new Mutex();
  private readonly tmpDir: string;
  private checkSeq = 0;

  constructor(private readonly opts: ServiceOptions) {
    const runDir = join(opts.workdir, 'run');
    this.tmpDir = join(opts.workdir, 'tmp');
    mkdirSync(runDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
    this.statsSocket = join(runDir, 'haproxy.sock');
    this.masterSocket = join(runDir, 'master.sock');
    this.store = new ConfigStore(opts.workdir, {
      statsSocket: this.statsSocket,
      // normalize-uri (request path normalisation) is an experimental directive in HAProxy 2.6 to 3.x.
      globalLines: ['hard-stop-after 30s', 'mworker-max-reloads 50', 'expose-experimental-directives'],
      httpLog: opts.haproxyHttpLog === true,
    });
    this.transactions = new TransactionStore(opts.workdir);
    this.haproxy = new HaproxyProcess({
      bin: opts.haproxyBin,
      configFile: this.store.configFile,
      masterSocket: this.masterSocket,
      onOutput: (line) => opts.log('info', 'haproxy', { line }),
      // As systemd's Restart=always for dataplaneapi's HAProxy: a crash is followed by a start.
      restart: true,
      log: opts.log,
    });
    this.runtime = new RuntimeClient(this.statsSocket);
    this.maps = new MapStorage(opts.mapsDir ?? join(opts.workdir, 'maps'));
    this.runtimeMaps = new RuntimeMaps(this.statsSocket, this.maps);
    this.reloads = new ReloadAgent({
      delayMs: opts.reloadDelayMs,
      run: () => this.haproxy.reload(),
      snapshot: () => structuredClone(this.store.current),
      onSucceeded: (snap) => this.store.markGood(snap as VersionedConfig),
      onFailed: (_snap, output) => {
        opts.log('error', 'reload failed; restoring the last known good configuration', { output });
        this.store.restoreGood();
      },
    });
    this.ssl = new SslStorage(opts.sslCertsDir ?? join(opts.workdir, 'ssl'));
    this.tls = new TlsStorage({
      storage: this.ssl,
      runtime: new RuntimeCerts(this.statsSocket),
      reloads: this.reloads,
      lock: this.lock,
      configText: () => this.configText().text,
      check: (file) => this.haproxy.check(file),
      tmpDir: this.tmpDir,
      log: opts.log,
    });
  }

  async start(): Promise<void> {
    const check = await this.checkModel(this.store.current);
    if (!check.ok) {
      this.opts.log('warn', 'stored configuration fails haproxy -c; starting from the last known good one', { output: check.output });
      this.store.restoreGood();
    }
    await this.haproxy.start();
    this.store.markGood(this.store.current);
  }

  async stop(): Promise<void> {
    this.transactions.flush();
    await this.haproxy.stop();
  }

  get version(): number {
    return this.store.current.version;
  }

  // ---- reads ------------------------------------------------------------------------------------

  /** The model a read sees: a transaction's copy when `transaction_id` is given, else the current one. */
  readModel(txId: string | undefined): { model: ConfigModel; version: number } {
    if (txId === undefined) return { model: this.store.current.model, version: this.version };
    const tx = this.transactions.get(txId);
    if (!tx) throw badRequest(`transaction ${txId} does not exist`);
    return { model: tx.model, version: tx._version };
  }

  // ---- writes -----------------------------------------------------------------------------------

  /**
   * Applies `op` inside a transaction (202, no reload) or directly at `version` (validated, version
   * bumped, reload scheduled: 202 + Reload-ID, or with force_reload 201/200/204 after the reload).
   */
  async write(q: WriteQuery, kind: WriteKind, op: (m: ConfigModel) => unknown): Promise<Reply> {
    if (q.transaction_id !== undefined && q.version !== undefined) {
      throw badRequest('both version and transaction specified, specify only one');
    }
    if (q.transaction_id !== undefined && q.force_reload === true) {
      throw badRequest('Both force_reload and transaction specified, specify only one');
    }
    if (q.transaction_id !== undefined) {
      const id = q.transaction_id;
      return this.lock.run(async () => {
        const tx = this.transactions.get(id);
        if (!tx) throw badRequest(`transaction ${id} does not exist`);
        if (tx.status !== 'in_progress') throw badRequest(`transaction ${id} is ${tx.status} and cannot be changed`);
        const model = cloneModel(tx.model);
        const result = op(model);
        this.checkBinds(model);
        this.transactions.save({ ...tx, model }, { soon: true });
        return { status: 202, body: kind === 'delete' ? undefined : result, version: tx._version };
      });
    }
    if (q.version === undefined) throw badRequest('version or transaction not specified');
    const given = q.version;
    return this.lock.run(async () => {
      const cur = this.store.current;
      if (given !== cur.version) {
        throw conflict(`version mismatch: version in configuration file is ${cur.version}, given version is ${given}`);
      }
      const model = cloneModel(cur.model);
      const result = op(model);
      await this.commitModel(model);
      return this.afterDirectWrite(kind, result, q.force_reload === true);
    });
  }

  private async afterDirectWrite(kind: WriteKind, result: unknown, force: boolean): Promise<Reply> {
    if (force) {
      const rec = await this.reloads.forceNow();
      if (rec.status === 'failed') throw badRequest(`Reload failed: ${rec.response ?? ''}`);
      return { status: kind === 'create' ? 201 : kind === 'replace' ? 200 : 204, body: kind === 'delete' ? undefined : result };
    }
    return { status: 202, body: kind === 'delete' ? undefined : result, reloadId: this.reloads.schedule() };
  }

  /** Validates a model (binds, then `haproxy -c`) and makes it the current configuration. */
  private async commitModel(model: ConfigModel): Promise<void> {
    this.checkBinds(model);
    const next = { version: this.version + 1, model };
    const check = await this.checkModel(next);
    if (!check.ok) throw badRequest(`validation error: ${check.output}`);
    this.store.replace(next);
  }

  private checkModel(doc: VersionedConfig): Promise<{ ok: boolean; output: string }> {
    return this.checkText(this.store.renderText(doc));
  }

  /** `haproxy -c` on a configuration text, then the validate command if there is one. */
  async checkText(text: string): Promise<{ ok: boolean; output: string }> {
    const file = join(this.tmpDir, `check-${process.pid}-${++this.checkSeq}.cfg`);
    writeFileAtomic(file, text);
    try {
      let res = await this.haproxy.check(file);
      if (res.ok && this.opts.validateCmd) res = await runValidateCmd(this.opts.validateCmd, file);
      // Name the file as users know it, not the temporary copy that was checked.
      return { ok: res.ok, output: res.output.replaceAll(file, 'haproxy.cfg') };
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** The configuration text of a transaction, or the current one. */
  configText(transactionId?: string): { text: string; version: number } {
    const { model, version } = this.readModel(transactionId);
    return { text: this.store.renderText({ version, model }), version };
  }

  private checkBinds(model: ConfigModel): void {
    for (const f of model.frontends) {
      for (const b of Object.values(f.binds ?? {})) {
        const addr = String(b.address ?? '');
        const family = isIP(addr);
        if (family === 0 || !this.opts.bindAllow.check(addr, family === 4 ? 'ipv4' : 'ipv6')) {
          throw badRequest(`bind ${String(b.name)} of frontend ${f.name}: address '${addr}' is not an IP address this server may bind (allowed: ${this.opts.bindAllow.rules.join(', ')})`);
        }
      }
    }
  }

  /** Refuses fields the renderer cannot write instead of silently dropping them, and rules lacking what their type needs. */
  static requireSupported(schema: string, body: Obj): void {
    const bad = unsupportedFields(schema, body);
    if (bad.length > 0) {
      throw notImplemented(`not supported by the local Data Plane API server: ${bad.join(', ')}`);
    }
    const missing = missingFields(schema, body);
    if (missing.length > 0) throw new ApiError(422, `invalid request body: missing ${missing.join(', ')}`);
    const spaced = multiWordFields(schema, body);
    if (spaced.length > 0) throw new ApiError(422, `invalid request body: ${spaced.join(', ')}`);
  }

  // ---- the non-transactional server fast path ---------------------------------------------------

  /**
   * PUT server with `version`: when only weight, address, port or maintenance change, dataplaneapi
   * applies them through the runtime API and answers 200 without a reload, while still writing the
   * configuration. Anything else, or a runtime failure, falls back to a scheduled reload.
   */
  async replaceServerAtVersion(q: WriteQuery, backend: string, name: string, body: Server,
    op: (m: ConfigModel) => unknown): Promise<Reply> {
    if (q.transaction_id !== undefined || q.version === undefined || q.force_reload === true) return this.write(q, 'replace', op);
    const given = q.version;
    return this.lock.run(async () => {
      const cur = this.store.current;
      if (given !== cur.version) {
        throw conflict(`version mismatch: version in configuration file is ${cur.version}, given version is ${given}`);
      }
      const be = cur.model.backends.find((b) => b.name === backend);
      const old = be?.servers?.[name];
      const model = cloneModel(cur.model);
      const result = op(model);
      await this.commitModel(model);
      if (old && onlyRuntimeFieldsChanged(old, body)) {
        try {
          const change: Obj = {};
          if (body.address !== old.address) change.address = body.address;
          if (body.port !== old.port) change.port = body.port ?? null;
          if (body.weight !== old.weight) change.weight = body.weight ?? 1;
          if (body.maintenance !== old.maintenance) change.admin_state = body.maintenance === 'enabled' ? 'maint' : 'ready';
          await this.runtime.replaceServer(backend, name, change);
          return { status: 200, body: result };
        } catch (err) {
          this.opts.log('warn', 'runtime server update failed; falling back to a reload', { backend, name, error: (err as Error).message });
        }
      }
      return this.afterDirectWrite('replace', result, false);
    });
  }

  // ---- transactions -----------------------------------------------------------------------------

  startTransaction(version: number): Promise<Reply> {
    return this.lock.run(async () => {
      if (version !== this.version) {
        throw conflict(`version mismatch: version in configuration file is ${this.version}, given version is ${version}`);
      }
      if (this.transactions.list('in_progress').length >= this.opts.maxOpenTransactions) {
        throw new ApiError(429, `cannot start a transaction: ${this.opts.maxOpenTransactions} transactions are already open`);
      }
      const tx = this.transactions.create(version, this.store.current.model);
      return { status: 201, body: txView(tx) };
    });
  }

  getTransaction(id: string): Reply {
    const tx = this.transactions.get(id);
    if (!tx) throw notFound(`transaction ${id} does not exist`);
    return { status: 200, body: txView(tx) };
  }

  listTransactions(status: TransactionStatus | undefined): Reply {
    return { status: 200, body: this.transactions.list(status).map(txView) };
  }

  deleteTransaction(id: string): Promise<Reply> {
    return this.lock.run(async () => {
      if (!this.transactions.delete(id)) throw notFound(`transaction ${id} does not exist`);
      return { status: 204 };
    });
  }

  commitTransaction(id: string, forceReload: boolean): Promise<Reply> {
    return this.lock.run(async () => {
      const tx = this.transactions.get(id);
      if (!tx) throw notFound(`transaction ${id} does not exist`);
      if (tx.status === 'outdated' || tx.status === 'failed') {
        throw new ApiError(406, `transaction ${id} is ${tx.status} and cannot be committed`);
      }
      const base = this.version;
      if (tx._version !== base) {
        tx.status = 'outdated';
        this.transactions.save(tx);
        throw conflict(`version mismatch: version mismatch, transaction version: ${tx._version}, configured version: ${base}`);
      }
      try {
        await this.commitModel(tx.model);
      } catch (err) {
        if (err instanceof ApiError && err.status === 400) {
          tx.status = 'failed';
          this.transactions.save(tx);
          throw badRequest(`${err.message.replace(/^validation error: /, `validation error: err transactionId=${id} `)}`);
        }
        throw err;
      }
      this.transactions.delete(id);
      for (const other of this.transactions.list('in_progress')) {
        if (other._version <= base) {
          other.status = 'outdated';
          this.transactions.save(other);
        }
      }
      const body = { _version: tx._version, id, status: 'success' };
      if (forceReload) {
        const rec = await this.reloads.forceNow();
        if (rec.status === 'failed') throw badRequest(`Reload failed: ${rec.response ?? ''}`);
        return { status: 200, body };
      }
      return { status: 202, body, reloadId: this.reloads.schedule() };
    });
  }

  // ---- map storage ------------------------------------------------------------------------------

  /**
   * PUT /storage/maps/{name}: HAProxy reads map files when it loads its configuration, so the new
   * contents take effect at a reload: scheduled (202 + Reload-ID), forced (204 after it), or skipped (204).
   */
  async replaceStorageMap(name: string, text: string, q: { skip_reload: boolean; force_reload: boolean }): Promise<Reply> {
    this.maps.replace(name, text);
    if (q.skip_reload) return { status: 204 };
    if (q.force_reload) {
      const rec = await this.reloads.forceNow();
      if (rec.status === 'failed') throw badRequest(`Reload failed: ${rec.response ?? ''}`);
      return { status: 204 };
    }
    return { status: 202, reloadId: this.reloads.schedule() };
  }

  /** DELETE /storage/maps/{name}: refused (409) while a configuration line names the file, a line scan as dataplaneapi's. */
  deleteStorageMap(name: string): Promise<Reply> {
    return this.lock.run(async () => {
      const file = this.maps.existing(name);
      const lines = this.configText().text.split('\n');
      const at = lines.findIndex((l) => l.includes(file) && !l.trim().startsWith('#'));
      if (at >= 0) {
        throw conflict(`rejecting attempt to delete file ${file} referenced in haproxy conf at line ${at + 1}: ${(lines[at] as string).trim()}`);
      }
      this.maps.delete(name);
      return { status: 204 };
    });
  }

  // ---- reloads ----------------------------------------------------------------------------------

  getReload(id: string): Reload {
    const r = this.reloads.get(id);
    if (!r) throw notFound(`reload ${id} does not exist`);
    return r;
  }
}

const RUNTIME_FIELDS = new Set(['weight', 'address', 'port', 'maintenance']);

function onlyRuntimeFieldsChanged(old: Server, next: Server): boolean {
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
  for (const k of keys) {
    const a = (old as Obj)[k];
    const b = (next as Obj)[k];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if (!RUNTIME_FIELDS.has(k)) return false;
  }
  return true;
}

/** Runs an operator's validate command on a configuration file, as dataplaneapi's validate_cmd. */
function runValidateCmd(cmd: string, file: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATAPLANEAPI_TRANSACTION_FILE: file } });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('error', (err) => resolve({ ok: false, output: `cannot run the validate command: ${err.message}` }));
    p.on('close', (code) => resolve({ ok: code === 0, output: output.trim().slice(0, 4000) || `validate command exited with ${String(code)}` }));
  });
}
