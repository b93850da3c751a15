import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ApiError, badRequest } from './api-error.js';
import { HANDLERS } from './handlers.js';
import type { ServedOperationId } from './served-operation-ids.js';
import { parseMultipart, type FormParts } from './multipart.js';
import { DataPlaneService, type Reply, type ServiceOptions } from './service.js';
import { ApiSpec, describeErrors, type CompiledOperation } from './spec.js';

export interface LocalServerOptions extends ServiceOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Request bodies larger than this are refused with 413. */
  maxBodyBytes?: number;
  /** PEM certificate (chain) and key: the API is served over HTTPS. */
  tls?: { cert: string; key: string };
}

const SPEC_FILE = fileURLToPath(new URL('../gen/served-operations.json', import.meta.url));
const BASE = '/v3';

/** Refuses control characters anywhere in a JSON body: no value may break a haproxy.cfg line. */
function findControlChar(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') {
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u001f\u007f]/.test(value) ? path || '/' : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findControlChar(value[i], `${path}/${i}`);
      if (hit) return hit;
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const hit = findControlChar(k, `${path}/${k}`) ?? findControlChar(v, `${path}/${k}`);
      if (hit) return hit;
    }
  }
  return undefined;
}

/**
 * Decodes a request body by the operation's media type and checks it against the API's schema (a
 * body that fails it is 422, as dataplaneapi v3.4 answers). Multipart bodies become their parts.
 */
async function decodeBody(op: CompiledOperation, raw: Buffer, contentType: string): Promise<unknown> {
  let body: unknown;
  let checked: unknown;
  if (op.bodyKind === 'json') {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw badRequest('request body is not valid JSON');
    }
    checked = body;
  } else if (op.bodyKind === 'multipart') {
    body = await parseMultipart(raw, contentType);
    checked = Object.fromEntries(Object.entries(body as FormParts).map(([name, part]) => [name, part.data.toString('utf8')]));
  } else {
    checked = raw.toString('utf8');
  }
  if (op.validateBody && !op.validateBody(checked)) throw new ApiError(422, `invalid request body: ${describeErrors('body', op.validateBody.errors)}`);
  const bad = op.bodyKind === 'json' ? findControlChar(body) : undefined;
  if (bad) throw new ApiError(422, `invalid request body: body${bad === '/' ? '' : bad} contains a control character`);
  return body;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new ApiError(413, `request body exceeds ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * An HTTPS server that answers plain HTTP on its port with a 400 saying so, as Go's net/http (and so
 * dataplaneapi) does, rather than closing the connection without a word.
 */
function createTlsServer(tls: { cert: string; key: string }, handler: RequestListener): Server {
  let server: Server;
  try {
    server = createHttpsServer({ cert: tls.cert, key: tls.key }, handler);
  } catch (err) {
    throw new Error(`the TLS certificate or key is not usable: ${(err as Error).message}`, { cause: err });
  }
  const handshake = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    // A peer that sends nothing, or keeps a refused connection open, is not waited for.
    socket.setTimeout(10_000, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      if (first[0] !== 0x16) {
        socket.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
        return;
      }
      // A TLS record: give the bytes back and let the TLS server take the connection over.
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(first);
      for (const l of handshake) l.call(server, socket);
    });
  });
  return server;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The local Data Plane API server: HTTP Basic auth on everything, the `/v3` subset the hub uses,
 * requests validated against the official spec, `{code, message}` errors and the
 * `Configuration-Version` header on every answer.
 */
export class LocalDataPlaneServer {
  readonly svc: DataPlaneService;
  private readonly spec = new ApiSpec(SPEC_FILE);
  private http: Server | undefined;

  constructor(private readonly opts: LocalServerOptions) {
    this.svc = new DataPlaneService(opts);
  }

  async start(): Promise<{ url: string }> {
    const handler: RequestListener = (req, res) => void this.handle(req, res);
    const http = this.opts.tls ? createTlsServer(this.opts.tls, handler) : createServer(handler);
    await this.svc.start();
    this.http = http;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const addr = http.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return { url: `${this.opts.tls ? 'https' : 'http'}://${host}:${addr.port}` };
  }

  async stop(): Promise<void> {
    const http = this.http;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    }
    await this.svc.stop();
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    if (!h.startsWith('Basic ')) return false;
    const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return false;
    return safeEqual(decoded.slice(0, i), this.opts.user) && safeEqual(decoded.slice(i + 1), this.opts.password);
  }

  /** Answers the reply's data (application/octet-stream), text (text/plain) or body (JSON), in that order. */
  private send(res: ServerResponse, status: number, reply: Pick<Reply, 'body' | 'text' | 'data'>, version: number, extra: Record<string, string> = {}): void {
    const headers: Record<string, string> = { 'Configuration-Version': String(version), ...extra };
    const [type, content] = reply.data !== undefined ? ['application/octet-stream', reply.data]
      : reply.text !== undefined ? ['text/plain', reply.text]
        : reply.body !== undefined ? ['application/json', JSON.stringify(reply.body)] : [undefined, undefined];
    if (content === undefined || status === 204) {
      res.writeHead(status, headers).end();
      return;
    }
    res.writeHead(status, { ...headers, 'Content-Type': type as string, 'Content-Length': String(Buffer.byteLength(content)) }).end(content);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let version = this.svc.version;
    try {
      const url = new URL(req.url ?? '/', 'http://local');
      if (!this.authorized(req)) {
        this.send(res, 401, { body: { code: 401, message: 'authentication required' } }, version, { 'WWW-Authenticate': 'Basic realm="API"' });
        return;
      }
      let path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
      if (path !== BASE && !path.startsWith(`${BASE}/`)) throw new ApiError(404, `path ${clip(url.pathname)} not found`);
      path = path.slice(BASE.length) || '/';
      const method = (req.method ?? 'GET').toUpperCase();
      const route = this.spec.match(method, path);
      if (!route) {
        const known = this.spec.inSpec(method, path);
        if (known === 'operation') throw new ApiError(501, `${method} ${BASE}${path} is not implemented by the local Data Plane API server`);
        if (known === 'path') throw new ApiError(405, `method ${method} is not allowed on ${BASE}${clip(path)}`);
        throw new ApiError(404, `path ${clip(url.pathname)} not found`);
      }
      const p = ApiSpec.parameters(route.op, route.pathParams, url.searchParams);
      if (typeof p.transaction_id === 'string') version = this.svc.readModel(p.transaction_id).version;
      let body: unknown;
      const raw = await readBody(req, this.opts.maxBodyBytes ?? 16 * 1024 * 1024);
      if (route.op.requestBody) {
        if (raw.length === 0) {
          if (route.op.requestBody.required) throw badRequest('request body is required');
        } else {
          body = await decodeBody(route.op, raw, req.headers['content-type'] ?? '');
        }
      }
      const handler = HANDLERS[route.op.operationId as ServedOperationId];
      const reply = await handler({ svc: this.svc, p, body, text: raw.toString('utf8') });
      const extra: Record<string, string> = reply.reloadId ? { 'Reload-ID': reply.reloadId } : {};
      this.send(res, reply.status, reply, reply.version ?? this.svc.version, extra);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, `internal error: ${(err as Error).message}`, { cause: err });
      if (e.status >= 500) this.opts.log('error', 'request failed', { method: req.method, url: req.url, error: e.message });
      if (!res.headersSent) this.send(res, e.status, { body: { code: e.status, message: e.message } }, version);
      else res.destroy();
    }
  }
}

const clip = (s: string): string => (s.length > 120 ? `${s.slice(0, 120)}…` : s).replace(/[^\x20-\x7e]/g, '?');
