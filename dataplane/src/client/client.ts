import createClient, { type Client } from 'openapi-fetch';
import { Agent } from 'undici';
import type { components, paths } from '../gen/dataplane-api.js';
import { codeForStatus, DataPlaneError, describeTlsFailure, isRetryableConflict, PLAIN_HTTP_TO_HTTPS, WriteRefusedError } from './errors.js';
import {
  storageOutcome, storageQuery, uploadForm,
  type SslCertificate, type SslCrtListFile, type StorageWrite, type StorageWriteOptions,
} from './storage.js';

export type Schemas = components['schemas'];
export type Transaction = Schemas['transaction'];
export type Reload = Schemas['reload'];
export type RuntimeServer = Schemas['runtime_server'];
export type MapFile = Schemas['map'];
export type MapEntry = Schemas['map_entry'];

/** Where a Data Plane API lives and how to log in. */
export interface DataPlaneTarget {
  /** Base URL without `/v3`, e.g. `http://127.0.0.1:5555` or `https://edge-a.example:5555`. */
  url: string;
  username: string;
  password: string;
  /** PEM of the CA that signs an HTTPS server's certificate; without it the default trust store is used. */
  ca?: string;
  /** Per-request time limit (default 10 s). */
  timeoutMs?: number;
}

/** The result of an openapi-fetch call, as far as unwrap needs it. */
interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** What a transaction body receives: the transaction and the query that routes writes into it. */
export interface TransactionScope {
  id: string;
  /** The configuration version the transaction started from. */
  version: number;
  query: { transaction_id: string };
  attempt: number;
}

export interface TransactionOptions {
  /** Attempts when the version moved underneath (409/406), each one re-running the body (default 3). */
  maxAttempts?: number;
  /** Wait for HAProxy's reload to finish and fail if it failed (default true). */
  waitForReload?: boolean;
  reloadTimeoutMs?: number;
  /** Reload synchronously at commit (`force_reload=true`). */
  forceReload?: boolean;
  /** Called with the number of abandoned transactions deleted after a 429 at start. */
  onReclaimed?: (count: number) => void;
  /** Checked before every step: an aborted transaction is deleted, never committed. */
  signal?: AbortSignal;
}

export interface TransactionOutcome<T> {
  value: T;
  transactionId: string;
  /** The configuration version after the commit. */
  version: number | undefined;
  reloadId: string | undefined;
  reload: Reload | undefined;
  attempts: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A typed client of the HAProxy Data Plane API v3 (types generated from the official spec). It works
 * the same against dataplaneapi and against the local server of this package.
 */
export class DataPlaneClient {
  /** The raw typed client: every path and operation of the spec. */
  readonly api: Client<paths>;
  /** The last `Configuration-Version` seen on an answer outside any transaction. */
  lastSeenVersion: number | undefined;
  /**
   * Asked right before every request that writes (anything but GET): why it may not be sent, or
   * undefined when it may. A writer that lost its right to write (a leader whose lease ran out)
   * sends nothing more, whatever it was in the middle of.
   */
  writeGuard: (() => string | undefined) | undefined;

  constructor(readonly target: DataPlaneTarget) {
    const auth = Buffer.from(`${target.username}:${target.password}`).toString('base64');
    const timeoutMs = target.timeoutMs ?? 10_000;
    // Node's global fetch, not undici's: only it accepts the global Request objects openapi-fetch builds.
    const dispatcher = target.ca === undefined ? undefined : new Agent({ connect: { ca: target.ca } });
    this.api = createClient<paths>({
      baseUrl: `${target.url.replace(/\/+$/, '')}/v3`,
      headers: { Authorization: `Basic ${auth}` },
      fetch: (req: Request) => fetch(req, { signal: AbortSignal.timeout(timeoutMs), dispatcher }),
    });
    this.api.use({
      onRequest: ({ request }) => {
        const why = request.method === 'GET' ? undefined : this.writeGuard?.();
        if (why !== undefined) throw new WriteRefusedError(`${request.method} ${new URL(request.url).pathname}`, why);
        return undefined;
      },
      onResponse: ({ request, response }) => {
        const v = response.headers.get('Configuration-Version');
        if (v !== null && /^\d+$/.test(v) && !new URL(request.url).searchParams.has('transaction_id')) {
          this.lastSeenVersion = Number(v);
        }
        return undefined;
      },
    });
  }

  /** Returns `data` of a call, or throws a DataPlaneError with the catalogue code for the answer. */
  async unwrap<T>(operation: string, call: Promise<FetchResult<T>>): Promise<{ data: T; response: Response }> {
    let result: FetchResult<T>;
    try {
      result = await call;
    } catch (err) {
      if (err instanceof WriteRefusedError) throw err;
      throw this.callFailed(operation, err);
    }
    if (result.response.ok) return { data: result.data as T, response: result.response };
    throw this.answerFailed(operation, result.response.status, result.error);
  }

  /** The error for a call that got no answer: TLS, time-out or unreachable. */
  private callFailed(operation: string, err: unknown): DataPlaneError {
    const e = err as Error;
    const tls = describeTlsFailure(err);
    if (tls) return new DataPlaneError('INGRESSFED_ERR_DPAPI_TLS', operation, 0, `${tls} (${this.target.url})`, { cause: err });
    const timeout = e.name === 'TimeoutError' || e.name === 'AbortError';
    return new DataPlaneError(timeout ? 'INGRESSFED_ERR_DPAPI_TIMEOUT' : 'INGRESSFED_ERR_DPAPI_UNREACHABLE', operation, 0,
      `${timeout ? 'timed out' : 'unreachable'} (${this.target.url}): ${e.message}`, { cause: err });
  }

  /** The error for an error answer; a text body (not the API's JSON) is its message. */
  private answerFailed(operation: string, status: number, error: unknown): DataPlaneError {
    const text = typeof error === 'string' ? error.trim().slice(0, 200) : '';
    if (status === 400 && PLAIN_HTTP_TO_HTTPS.test(text)) {
      return new DataPlaneError('INGRESSFED_ERR_DPAPI_TLS', operation, status,
        `the server speaks HTTPS, and plain HTTP was sent: use an https:// url (${this.target.url})`);
    }
    const json = (error as { message?: unknown } | null | undefined)?.message;
    const message = typeof json === 'string' ? json : text || `HTTP ${status}`;
    return new DataPlaneError(codeForStatus(status, message), operation, status, message);
  }

  async getVersion(transactionId?: string): Promise<number> {
    const query = transactionId === undefined ? {} : { transaction_id: transactionId };
    const { data } = await this.unwrap('get configuration version',
      this.api.GET('/services/haproxy/configuration/version', { params: { query } }));
    return Number(data);
  }

  async startTransaction(version: number): Promise<Transaction> {
    const { data } = await this.unwrap('start transaction',
      this.api.POST('/services/haproxy/transactions', { params: { query: { version } } }));
    return data;
  }

  /** Commits; answers the new version and the Reload-ID HAProxy's reload is tracked by. */
  async commitTransaction(id: string, forceReload = false): Promise<{ version: number | undefined; reloadId: string | undefined }> {
    const { response } = await this.unwrap('commit transaction',
      this.api.PUT('/services/haproxy/transactions/{id}', { params: { path: { id }, query: { force_reload: forceReload } } }));
    const v = response.headers.get('Configuration-Version');
    return { version: v !== null && /^\d+$/.test(v) ? Number(v) : undefined, reloadId: response.headers.get('Reload-ID') ?? undefined };
  }

  /** Deletes a transaction; one that is already gone is not an error. */
  async deleteTransaction(id: string): Promise<void> {
    try {
      await this.unwrap('delete transaction', this.api.DELETE('/services/haproxy/transactions/{id}', { params: { path: { id } } }));
    } catch (err) {
      if (err instanceof DataPlaneError && err.httpStatus === 404) return;
      throw err;
    }
  }

  /**
   * Deletes in-progress transactions that can never be committed: those started at a version older
   * than the current one (left by a crashed writer). With `all`, every in-progress transaction goes,
   * for when the open-transaction limit (429) is reached by transactions at the current version.
   * Answers how many were deleted.
   */
  async reclaimTransactions(opts: { all?: boolean } = {}): Promise<number> {
    const current = await this.getVersion();
    let deleted = 0;
    for (const t of await this.listTransactions('in_progress')) {
      if (!t.id || (!opts.all && (t._version ?? 0) >= current)) continue;
      await this.deleteTransaction(t.id);
      deleted++;
    }
    return deleted;
  }

  /**
   * Checks a transaction's configuration with HAProxy without committing it: its text is read back
   * and sent to `only_validate`. Throws the Data Plane API's refusal (HAProxy's message) if invalid.
   */
  async validateTransaction(id: string): Promise<void> {
    const { data } = await this.unwrap('read transaction configuration', this.api.GET('/services/haproxy/configuration/raw', {
      params: { query: { transaction_id: id } }, parseAs: 'text',
    }));
    await this.unwrap('validate configuration', this.api.POST('/services/haproxy/configuration/raw', {
      params: { query: { only_validate: true, skip_version: true } },
      body: data as unknown as string,
      bodySerializer: (b: unknown) => String(b),
      headers: { 'Content-Type': 'text/plain' },
      parseAs: 'text',
    }));
  }

  /** The Data Plane API's own version string (`/v3/info`). */
  async apiVersion(): Promise<string> {
    const { data } = await this.unwrap('get info', this.api.GET('/info'));
    return data.api?.version ?? '';
  }

  async listTransactions(status?: 'failed' | 'in_progress'): Promise<Transaction[]> {
    const query = status === undefined ? {} : { status };
    const { data } = await this.unwrap('list transactions', this.api.GET('/services/haproxy/transactions', { params: { query } }));
    return data;
  }

  /** Polls a reload until HAProxy reports it succeeded or failed (on status only; see BEHAVIOUR §5). */
  async waitForReload(id: string, timeoutMs = 30_000, intervalMs = 50): Promise<Reload> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { data } = await this.unwrap('get reload', this.api.GET('/services/haproxy/reloads/{id}', { params: { path: { id } } }));
      if (data.status === 'succeeded') return data;
      if (data.status === 'failed') {
        throw new DataPlaneError('INGRESSFED_ERR_DPAPI_RELOAD_FAILED', 'reload', 0, `reload ${id} failed: ${data.response ?? ''}`);
      }
      if (Date.now() > deadline) {
        throw new DataPlaneError('INGRESSFED_ERR_DPAPI_TIMEOUT', 'reload', 0, `reload ${id} did not finish within ${timeoutMs} ms`);
      }
      await sleep(intervalMs);
    }
  }

  /**
   * Runs `body` inside a transaction started at the current version, commits it, and waits for the
   * reload. On a version conflict (409 at start or commit, 406 at commit) the transaction is deleted,
   * the version re-read and `body` run again, so callers re-plan from fresh state. A transaction that
   * is not committed is always deleted.
   */
  async transaction<T>(body: (tx: TransactionScope) => Promise<T>, opts: TransactionOptions = {}): Promise<TransactionOutcome<T>> {
    const maxAttempts = opts.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      let tx: Transaction | undefined;
      let committed = false;
      try {
        const version = await this.getVersion();
        tx = await this.startTransaction(version).catch(async (err: unknown) => {
          if (!(err instanceof DataPlaneError) || err.code !== 'INGRESSFED_ERR_DPAPI_TOO_MANY_TRANSACTIONS') throw err;
          // The limit is reached by transactions nobody will commit: reclaim them, then start once more.
          const reclaimed = (await this.reclaimTransactions()) || (await this.reclaimTransactions({ all: true }));
          opts.onReclaimed?.(reclaimed);
          return this.startTransaction(await this.getVersion());
        });
        const scope: TransactionScope = { id: tx.id as string, version, query: { transaction_id: tx.id as string }, attempt };
        const value = await body(scope);
        opts.signal?.throwIfAborted();
        const commit = await this.commitTransaction(scope.id, opts.forceReload === true);
        committed = true;
        const reload = commit.reloadId && opts.waitForReload !== false
          ? await this.waitForReload(commit.reloadId, opts.reloadTimeoutMs)
          : undefined;
        return { value, transactionId: scope.id, version: commit.version, reloadId: commit.reloadId, reload, attempts: attempt };
      } catch (err) {
        if (tx?.id && !committed) await this.deleteTransaction(tx.id).catch(() => undefined);
        if (!committed && isRetryableConflict(err) && attempt < maxAttempts) continue;
        throw err;
      }
    }
  }

  /** Current sessions of every server of a backend (native stats), by server name. */
  async serverSessions(backend: string): Promise<Map<string, number>> {
    const { data } = await this.unwrap('get stats',
      this.api.GET('/services/haproxy/stats/native', { params: { query: { type: 'server', parent: backend } } }));
    const out = new Map<string, number>();
    for (const s of data.stats ?? []) if (s.name) out.set(s.name, Number(s.stats?.scur ?? 0));
    return out;
  }

  // ---- runtime --------------------------------------------------------------------------------

  async listRuntimeServers(backend: string): Promise<RuntimeServer[]> {
    const { data } = await this.unwrap('list runtime servers',
      this.api.GET('/services/haproxy/runtime/backends/{parent_name}/servers', { params: { path: { parent_name: backend } } }));
    return data;
  }

  async getRuntimeServer(backend: string, name: string): Promise<RuntimeServer> {
    const { data } = await this.unwrap('get runtime server',
      this.api.GET('/services/haproxy/runtime/backends/{parent_name}/servers/{name}', { params: { path: { parent_name: backend, name } } }));
    return data;
  }

  /** Changes a server at runtime (address, port, weight, admin/operational state): no reload. */
  async setRuntimeServer(backend: string, name: string, change: RuntimeServer): Promise<RuntimeServer> {
    const { data } = await this.unwrap('set runtime server',
      this.api.PUT('/services/haproxy/runtime/backends/{parent_name}/servers/{name}', {
        params: { path: { parent_name: backend, name } },
        body: change,
      }));
    return data;
  }

  // ---- maps -----------------------------------------------------------------------------------

  /** The map files in the Data Plane API's storage (`file` is the path HAProxy's configuration names). */
  async listMapFiles(): Promise<MapFile[]> {
    const { data } = await this.unwrap('list map files', this.api.GET('/services/haproxy/storage/maps'));
    return data;
  }

  /** Stores a new map file (no reload: a file alone changes nothing until a configuration names it). */
  async createMapFile(name: string, text: string): Promise<MapFile> {
    const form = new FormData();
    form.append('file_upload', new Blob([text], { type: 'application/octet-stream' }), name);
    const { data } = await this.unwrap(`create map file ${name}`, this.api.POST('/services/haproxy/storage/maps', {
      body: form as never,
      bodySerializer: (b: unknown) => b as FormData,
    }));
    return data;
  }

  /** Replaces a stored map file's contents; `skipReload` when no running configuration names it yet. */
  async replaceMapFile(name: string, text: string, opts: { skipReload?: boolean } = {}): Promise<void> {
    await this.unwrap(`replace map file ${name}`, this.api.PUT('/services/haproxy/storage/maps/{name}', {
      params: { path: { name }, query: opts.skipReload ? { skip_reload: true } : {} },
      body: text as never,
      bodySerializer: (b: unknown) => String(b),
      headers: { 'Content-Type': 'text/plain' },
      parseAs: 'text',
    }));
  }

  /** A map's entries in the running HAProxy. */
  async mapEntries(map: string): Promise<MapEntry[]> {
    const { data } = await this.unwrap(`show map ${map}`,
      this.api.GET('/services/haproxy/runtime/maps/{parent_name}/entries', { params: { path: { parent_name: map } } }));
    return data;
  }

  /** Adds entries to a running map in one call (keys must not be in it yet). `sync` writes the map file too. */
  async addMapEntries(map: string, entries: MapEntry[], sync: boolean): Promise<void> {
    await this.unwrap(`add to map ${map}`, this.api.PUT('/services/haproxy/runtime/maps/{name}', {
      params: { path: { name: map }, query: { force_sync: sync } },
      body: entries,
    }));
  }

  async setMapEntry(map: string, key: string, value: string, sync: boolean): Promise<void> {
    await this.unwrap(`set map ${map} entry`, this.api.PUT('/services/haproxy/runtime/maps/{parent_name}/entries/{id}', {
      params: { path: { parent_name: map, id: key }, query: { force_sync: sync } },
      body: { key, value },
    }));
  }

  async deleteMapEntry(map: string, key: string, sync: boolean): Promise<void> {
    await this.unwrap(`delete map ${map} entry`, this.api.DELETE('/services/haproxy/runtime/maps/{parent_name}/entries/{id}', {
      params: { path: { parent_name: map, id: key }, query: { force_sync: sync } },
    }));
  }

  // ---- certificates and crt-lists -------------------------------------------------------------

  /** The certificate files in storage (`file` is the path a bind's `ssl_certificate` or a crt-list names). */
  async listSslCertificates(): Promise<SslCertificate[]> {
    const { data } = await this.unwrap('list SSL certificates', this.api.GET('/services/haproxy/storage/ssl_certificates'));
    return data;
  }

  /** One stored certificate: its names, issuers and validity. */
  async getSslCertificate(name: string): Promise<SslCertificate> {
    const { data } = await this.unwrap(`get SSL certificate ${name}`,
      this.api.GET('/services/haproxy/storage/ssl_certificates/{name}', { params: { path: { name } } }));
    return data;
  }

  /**
   * Stores a certificate file (PEM: the certificate, its chain and its private key) under `name`.
   * HAProxy takes it at runtime when it can (`applied: 'runtime'`); otherwise a reload is scheduled.
   */
  async uploadSslCertificate(name: string, pem: string, opts: StorageWriteOptions = {}): Promise<StorageWrite<SslCertificate>> {
    const { data, response } = await this.unwrap(`upload SSL certificate ${name}`, this.api.POST('/services/haproxy/storage/ssl_certificates', {
      params: { query: storageQuery(opts) },
      body: uploadForm(name, pem) as never,
      bodySerializer: (b: unknown) => b as FormData,
    }));
    return storageOutcome(data, response, opts);
  }

  /** Replaces a stored certificate; one HAProxy has loaded is swapped at runtime, with no reload. */
  async replaceSslCertificate(name: string, pem: string, opts: StorageWriteOptions = {}): Promise<StorageWrite<SslCertificate>> {
    const { data, response } = await this.unwrap(`replace SSL certificate ${name}`, this.api.PUT('/services/haproxy/storage/ssl_certificates/{name}', {
      params: { path: { name }, query: storageQuery(opts) },
      body: pem as never,
      bodySerializer: (b: unknown) => String(b),
      headers: { 'Content-Type': 'text/plain' },
    }));
    return storageOutcome(data, response, opts);
  }

  /** Deletes a stored certificate; refused (409, INGRESSFED_ERR_DPAPI_CONFLICT) while the configuration uses it. */
  async deleteSslCertificate(name: string, opts: StorageWriteOptions = {}): Promise<StorageWrite<undefined>> {
    const { response } = await this.unwrap(`delete SSL certificate ${name}`, this.api.DELETE('/services/haproxy/storage/ssl_certificates/{name}', {
      params: { path: { name }, query: storageQuery(opts) }, parseAs: 'text',
    }));
    return storageOutcome(undefined, response, opts);
  }

  /** The crt-lists in storage (`file` is the path a bind's `crt_list` names). */
  async listCrtLists(): Promise<SslCrtListFile[]> {
    const { data } = await this.unwrap('list crt-lists', this.api.GET('/services/haproxy/storage/ssl_crt_lists'));
    return data;
  }

  /** The text of a stored crt-list. */
  async getCrtListText(name: string): Promise<string> {
    const { data } = await this.unwrap(`get crt-list ${name}`, this.api.GET('/services/haproxy/storage/ssl_crt_lists/{name}', {
      params: { path: { name } }, parseAs: 'text',
    }));
    return data as unknown as string;
  }

  /**
   * Stores a crt-list: one stored certificate per line, by its `file` path, optionally with
   * `[ssl options]` and SNI filters. HAProxy reads crt-lists only when it loads its configuration, so
   * a reload is scheduled (or forced).
   */
  async createCrtList(name: string, text: string, opts: { forceReload?: boolean } = {}): Promise<StorageWrite<SslCrtListFile>> {
    const { data, response } = await this.unwrap(`create crt-list ${name}`, this.api.POST('/services/haproxy/storage/ssl_crt_lists', {
      params: { query: storageQuery(opts) },
      body: uploadForm(name, text) as never,
      bodySerializer: (b: unknown) => b as FormData,
    }));
    return storageOutcome(data, response, opts);
  }

  /** Replaces a stored crt-list; it takes effect at a reload (HAProxy cannot replace a whole crt-list at runtime). */
  async replaceCrtList(name: string, text: string, opts: StorageWriteOptions = {}): Promise<StorageWrite<SslCrtListFile>> {
    const { data, response } = await this.unwrap(`replace crt-list ${name}`, this.api.PUT('/services/haproxy/storage/ssl_crt_lists/{name}', {
      params: { path: { name }, query: storageQuery(opts) },
      body: text as never,
      bodySerializer: (b: unknown) => String(b),
      headers: { 'Content-Type': 'text/plain' },
    }));
    return storageOutcome(data, response, opts);
  }

  /** Deletes a stored crt-list; refused (409) while the configuration names it. */
  async deleteCrtList(name: string, opts: StorageWriteOptions = {}): Promise<StorageWrite<undefined>> {
    const { response } = await this.unwrap(`delete crt-list ${name}`, this.api.DELETE('/services/haproxy/storage/ssl_crt_lists/{name}', {
      params: { path: { name }, query: storageQuery(opts) }, parseAs: 'text',
    }));
    return storageOutcome(undefined, response, opts);
  }
}
