import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { RESOURCES, gvPrefix, groupVersion, type KubeResource } from './resources.js';
import { KubeError, ObjectStore, type KubeObject, type StoredEvent } from './store.js';

// A Kubernetes API server stand-in for the kinds the spoke uses: discovery and OpenAPI v3 enough for
// the real kubectl, list and watch with the real resourceVersion semantics (replay, 410 Gone on a
// compacted version, BOOKMARK events, timeouts, dropped watches, stalled watches) for the real
// client-node informers, and the API server's 256 KiB limit on an object's annotations.

export interface KubeApiOptions {
  /** Interval of BOOKMARK events on watches that allow them (default 2 s). */
  bookmarkIntervalMs?: number;
  historyLimit?: number;
}

interface ActiveWatch {
  res: ServerResponse;
  plural: string;
  /** Held open and silent: nothing more is written to it, and it does not time out. */
  stalled: boolean;
  end: () => void;
}

/** The API server's limit on the keys and values of an object's annotations, together. */
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

const status = (code: number, reason: string, message: string): Record<string, unknown> =>
  ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) }).end(text);
}

function readJson(req: IncomingMessage): Promise<KubeObject> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubeObject;
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        v.metadata = (v.metadata ?? {}) as Record<string, unknown>;
        resolve(v);
      } catch (err) {
        reject(new KubeError(400, 'BadRequest', `the body of the request was in an unknown format: ${(err as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}

function matchesLabels(o: KubeObject, selector: string | null): boolean {
  if (!selector) return true;
  const labels = (o.metadata.labels ?? {}) as Record<string, string>;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=').map((s) => s.trim());
    return k !== undefined && (v === undefined ? k in labels : labels[k] === v);
  });
}

/**
 * Field selectors as the API server serves them for the fields the spoke uses: `metadata.name`,
 * `metadata.namespace` and, for Secrets, `type`; `=`, `==` and `!=`. Any other field is refused (400),
 * as a real API server refuses fields it does not index.
 */
function matchesFields(kind: string, o: KubeObject, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([a-zA-Z.]+)\s*(!=|==|=)\s*(.*)$/.exec(term.trim());
    if (!m) throw new KubeError(400, 'BadRequest', `unable to parse requirement: '${term}'`);
    const [, field, op, want] = m;
    const value = field === 'metadata.name' ? o.metadata.name : field === 'metadata.namespace' ? o.metadata.namespace
      : field === 'type' && kind === 'Secret' ? (o as { type?: string }).type ?? 'Opaque' : undefined;
    if (value === undefined && field !== 'metadata.namespace') throw new KubeError(400, 'BadRequest', `field label not supported: ${field}`);
    return op === '!=' ? value !== want : value === want;
  });
}

export class KubeApiServer {
  readonly store: ObjectStore;
  readonly token = randomBytes(16).toString('hex');
  private http: Server | undefined;
  private readonly watches = new Set<ActiveWatch>();
  private readonly sockets = new Set<Socket>();
  /** Kinds whose list answers are emptied, as a broken API server would answer. */
  private readonly emptyLists = new Set<string>();
  private stalling = false;
  private unanswering = false;
  private unanswered = 0;
  private baseUrl = '';

  constructor(private readonly opts: KubeApiOptions = {}) {
    this.store = new ObjectStore(opts.historyLimit);
  }

  get url(): string {
    return this.baseUrl;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const http = createServer((req, res) => void this.handle(req, res));
    // Every socket is tracked, so that stop() ends them all, whatever state their requests are in.
    http.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.http = http;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => resolve());
    });
    this.baseUrl = `http://${host}:${(http.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    this.dropWatches();
    const http = this.http;
    if (!http) return;
    const closed = new Promise<void>((r) => http.close(() => r()));
    http.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** A kubeconfig (JSON is valid YAML) for kubectl and client-node. */
  writeKubeconfig(path: string, cluster = 'standin', namespace = 'default'): void {
    const cfg = {
      apiVersion: 'v1', kind: 'Config', 'current-context': cluster,
      clusters: [{ name: cluster, cluster: { server: this.baseUrl, 'insecure-skip-tls-verify': true } }],
      users: [{ name: `${cluster}-user`, user: { token: this.token } }],
      contexts: [{ name: cluster, context: { cluster, user: `${cluster}-user`, namespace } }],
    };
    writeFileSync(path, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  }

  /** Ends every open watch without an event, as a dropped connection does. */
  dropWatches(): void {
    for (const w of [...this.watches]) w.end();
  }

  /** Compacts history and ends every watch (but stalled ones) with a 410 Gone event, forcing clients to relist. */
  expireWatches(): void {
    this.store.compactAll();
    for (const w of [...this.watches].filter((x) => !x.stalled)) {
      w.res.write(JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') }) + '\n');
      w.end();
    }
  }

  /** How many watches of a kind (by plural) are open and not held: a client has re-watched once this is above 0. */
  openWatchesOf(plural: string): number {
    return [...this.watches].filter((w) => w.plural === plural && !w.stalled).length;
  }

  /** Makes lists of a kind (by plural) answer no items while on, whatever the store holds. */
  emptyListsOf(plural: string, on: boolean): void {
    if (on) this.emptyLists.add(plural);
    else this.emptyLists.delete(plural);
  }

  /**
   * While on, every open and every new watch is held open and sends nothing (no event, no bookmark,
   * no timeout), as a stuck stream does; lists still answer. Off: the stalled streams are ended, as
   * a connection that finally breaks, and clients watch again.
   */
  stallWatches(on: boolean): void {
    this.stalling = on;
    for (const w of [...this.watches]) {
      if (on) w.stalled = true;
      else if (w.stalled) w.end();
    }
  }

  /**
   * While on, new watch requests are taken and never answered (no headers, ever, even once this is
   * off), as a server that accepts a connection and hangs does. Lists still answer.
   */
  leaveWatchesUnanswered(on: boolean): void {
    this.unanswering = on;
  }

  /** Watch requests taken and left unanswered. */
  get unansweredWatches(): number {
    return this.unanswered;
  }

  get openWatches(): number {
    return this.watches.size;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // kubectl sends no bearer token over plain HTTP; the stand-in listens on loopback only, so a
      // missing token is accepted, and a wrong one refused.
      const auth = req.headers.authorization;
      if (auth !== undefined && auth !== `Bearer ${this.token}`) throw new KubeError(401, 'Unauthorized', 'Unauthorized');
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      const method = req.method ?? 'GET';
      if (method === 'GET') {
        const doc = this.discovery(path);
        if (doc !== undefined) return send(res, 200, doc);
      }
      const route = this.route(path);
      if (!route) throw new KubeError(404, 'NotFound', 'the server could not find the requested resource');
      const { r, ns, name, sub } = route;
      if (sub !== undefined && !(sub === 'status' && r.hasStatus)) throw new KubeError(404, 'NotFound', 'the server could not find the requested resource');
      if (name === undefined) {
        if (method === 'GET' && url.searchParams.get('watch') === 'true') return this.watch(req, res, r, ns, url.searchParams);
        if (method === 'GET') {
          const items = this.emptyLists.has(r.plural) ? [] : this.store.list(r, ns).filter((o) => matchesLabels(o, url.searchParams.get('labelSelector')) && matchesFields(r.kind, o, url.searchParams.get('fieldSelector')));
          return send(res, 200, { kind: r.listKind, apiVersion: groupVersion(r), metadata: { resourceVersion: String(this.store.resourceVersion) }, items });
        }
        if (method === 'POST') {
          const obj = this.validated(r, await readJson(req), url.searchParams);
          if (r.namespaced && obj.metadata.namespace !== undefined && obj.metadata.namespace !== ns) {
            throw new KubeError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
          }
          return send(res, 201, this.store.create(r, ns, obj));
        }
      } else {
        if (method === 'GET') return send(res, 200, this.store.get(r, ns, name));
        if (method === 'PUT') {
          const obj = this.validated(r, await readJson(req), url.searchParams);
          if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
            throw new KubeError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
          }
          return send(res, 200, this.store.replace(r, ns, name, obj, sub === 'status' ? 'status' : undefined));
        }
        if (method === 'DELETE' && sub === undefined) return send(res, 200, this.store.delete(r, ns, name));
      }
      throw new KubeError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    } catch (err) {
      const e = err instanceof KubeError ? err : new KubeError(500, 'InternalError', (err as Error).message);
      if (!res.headersSent) send(res, e.code, status(e.code, e.reason, e.message));
    }
  }

  /** Strict field validation of the top-level fields (kubectl asks for it with fieldValidation=Strict). */
  private validated(r: KubeResource, obj: KubeObject, q: URLSearchParams): KubeObject {
    if (q.get('fieldValidation') === 'Strict') {
      const unknown = Object.keys(obj).filter((k) => !r.fields.includes(k));
      if (unknown.length > 0) throw new KubeError(400, 'BadRequest', `strict decoding error: unknown field "${unknown[0] as string}"`);
    }
    if (obj.kind !== undefined && obj.kind !== r.kind) throw new KubeError(400, 'BadRequest', `kind ${String(obj.kind)} does not match ${r.kind}`);
    const annotations = Object.entries((obj.metadata.annotations ?? {}) as Record<string, string>);
    const size = annotations.reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0);
    if (size > TOTAL_ANNOTATION_SIZE_LIMIT) {
      throw new KubeError(422, 'Invalid', `${r.kind} "${String(obj.metadata.name)}" is invalid: metadata.annotations: Too long: may not be more than ${TOTAL_ANNOTATION_SIZE_LIMIT} bytes`);
    }
    return obj;
  }

  private route(path: string): { r: KubeResource; ns?: string; name?: string; sub?: string } | undefined {
    const split = (r: KubeResource): string[] | undefined => {
      const prefix = gvPrefix(r);
      return path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1).split('/').map(decodeURIComponent) : undefined;
    };
    // Namespaced paths first: /api/v1/namespaces/x/services is a service list, not namespace x.
    for (const r of RESOURCES) {
      const seg = split(r);
      if (seg && r.namespaced && seg[0] === 'namespaces' && seg.length >= 3 && seg.length <= 5 && seg[2] === r.plural) {
        return { r, ns: seg[1], name: seg[3], sub: seg[4] };
      }
    }
    for (const r of RESOURCES) {
      const seg = split(r);
      if (seg && seg[0] === r.plural && seg.length <= 3) return { r, name: seg[1], sub: seg[2] };
    }
    return undefined;
  }

  private watch(req: IncomingMessage, res: ServerResponse, r: KubeResource, ns: string | undefined, q: URLSearchParams): void {
    if (this.unanswering) {
      this.unanswered++;
      return; // the socket is destroyed by stop(), or by the client giving up
    }
    // A selector the server cannot serve is refused before the watch starts (it throws KubeError).
    matchesFields(r.kind, { metadata: { name: '', namespace: '' } } as KubeObject, q.get('fieldSelector'));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    // Clients wait for the headers before they consider a watch open.
    res.flushHeaders();
    const inScope = (o: KubeObject): boolean => (ns === undefined || o.metadata.namespace === ns) && matchesLabels(o, q.get('labelSelector')) && matchesFields(r.kind, o, q.get('fieldSelector'));
    const rvParam = q.get('resourceVersion');
    let unsubscribe = (): void => undefined;
    const timers: NodeJS.Timeout[] = [];
    const w: ActiveWatch = {
      res,
      plural: r.plural,
      stalled: this.stalling,
      end: () => {
        if (!this.watches.delete(w)) return;
        unsubscribe();
        for (const t of timers) clearTimeout(t);
        res.end();
      },
    };
    this.watches.add(w);
    req.on('close', () => w.end());
    // A watch opened while stalling is held open and never written to.
    if (w.stalled) return;
    const write = (e: { type: string; object: unknown }): void => {
      if (!w.stalled) res.write(JSON.stringify(e) + '\n');
    };
    if (!rvParam || rvParam === '0') {
      for (const o of this.store.list(r, ns).filter(inScope)) write({ type: 'ADDED', object: o });
    } else {
      const events = this.store.eventsSince(r.plural, Number(rvParam));
      if (events === undefined || !/^\d+$/.test(rvParam)) {
        write({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${rvParam} (${this.store.oldestResumable})`) });
        w.end();
        return;
      }
      for (const e of events) if (inScope(e.object)) write({ type: e.type, object: e.object });
    }
    unsubscribe = this.store.subscribe((e: StoredEvent) => {
      if (e.plural === r.plural && inScope(e.object)) write({ type: e.type, object: e.object });
    });
    if (q.get('allowWatchBookmarks') === 'true') {
      const tick = (): void => {
        write({ type: 'BOOKMARK', object: { kind: r.kind, apiVersion: groupVersion(r), metadata: { resourceVersion: String(this.store.resourceVersion) } } });
        timers[0] = setTimeout(tick, this.opts.bookmarkIntervalMs ?? 2000);
      };
      timers[0] = setTimeout(tick, this.opts.bookmarkIntervalMs ?? 2000);
    }
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0) {
      timers[1] = setTimeout(() => {
        if (!w.stalled) w.end();
      }, timeout * 1000);
    }
  }

  // ---- discovery and OpenAPI ----------------------------------------------------------------------

  private discovery(path: string): unknown {
    const groups = [...new Set(RESOURCES.filter((r) => r.group !== '').map((r) => r.group))];
    const gvOf = (g: string): string => `${g}/${RESOURCES.find((r) => r.group === g)?.version ?? 'v1'}`;
    if (path === '/version') {
      return { major: '1', minor: '32', gitVersion: 'v1.32.0-ingressfed-standin', platform: 'linux/amd64', goVersion: 'go1.23' };
    }
    if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.baseUrl.replace('http://', '') }] };
    if (path === '/apis') {
      return {
        kind: 'APIGroupList', apiVersion: 'v1',
        groups: groups.map((g) => ({ name: g, versions: [{ groupVersion: gvOf(g), version: 'v1' }], preferredVersion: { groupVersion: gvOf(g), version: 'v1' } })),
      };
    }
    for (const g of groups) {
      if (path === `/apis/${g}`) return { kind: 'APIGroup', apiVersion: 'v1', name: g, versions: [{ groupVersion: gvOf(g), version: 'v1' }], preferredVersion: { groupVersion: gvOf(g), version: 'v1' } };
    }
    const gvs = [...new Set(RESOURCES.map((r) => gvPrefix(r)))];
    for (const prefix of gvs) {
      const rs = RESOURCES.filter((r) => gvPrefix(r) === prefix);
      const first = rs[0] as KubeResource;
      if (path === prefix) {
        const verbs = ['create', 'delete', 'get', 'list', 'update', 'watch'];
        return {
          kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(first),
          resources: rs.flatMap((r) => [
            { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs, shortNames: r.shortNames },
            ...(r.hasStatus ? [{ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'update'] }] : []),
          ]),
        };
      }
      if (path === `/openapi/v3${prefix}`) return this.openapiFor(rs);
    }
    if (path === '/openapi/v3') {
      return { paths: Object.fromEntries(gvs.map((p) => [p.slice(1), { serverRelativeURL: `/openapi/v3${p}?hash=standin` }])) };
    }
    return undefined;
  }

  /** Just enough OpenAPI v3 for kubectl to see that the server does strict field validation. */
  private openapiFor(rs: KubeResource[]): unknown {
    const paths: Record<string, unknown> = {};
    const schemas: Record<string, unknown> = {};
    for (const r of rs) {
      const gvk = { group: r.group, version: r.version, kind: r.kind };
      const collection = r.namespaced ? `${gvPrefix(r)}/namespaces/{namespace}/${r.plural}` : `${gvPrefix(r)}/${r.plural}`;
      const params = [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }];
      const ref = { $ref: `#/components/schemas/${r.kind}` };
      const ok = { 200: { description: 'OK', content: { 'application/json': { schema: ref } } } };
      paths[collection] = { post: { operationId: `create${r.kind}`, 'x-kubernetes-action': 'post', 'x-kubernetes-group-version-kind': gvk, parameters: params, requestBody: { content: { '*/*': { schema: ref } } }, responses: ok } };
      paths[`${collection}/{name}`] = {
        put: { operationId: `replace${r.kind}`, 'x-kubernetes-action': 'put', 'x-kubernetes-group-version-kind': gvk, parameters: params, requestBody: { content: { '*/*': { schema: ref } } }, responses: ok },
        patch: { operationId: `patch${r.kind}`, 'x-kubernetes-action': 'patch', 'x-kubernetes-group-version-kind': gvk, parameters: params, responses: ok },
      };
      schemas[r.kind] = { type: 'object', 'x-kubernetes-group-version-kind': [gvk], properties: Object.fromEntries(r.fields.map((f) => [f, {}])) };
    }
    return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas } };
  }
}
