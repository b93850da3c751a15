import { request as httpRequestOf } from 'node:http';
import { request as httpsRequestOf } from 'node:https';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/**
 * One HTTP request with a chosen Host header (fetch cannot set it), on a fresh connection, bounded
 * in time. Used to send traffic through HAProxy. An `https:` url trusts `ca` (PEM) only.
 */
export function httpRequest(url: string, opts: { host?: string; method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number; ca?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.host !== undefined) headers.host = opts.host;
    // Node chunks a body only for some methods (not DELETE or OPTIONS): always frame it.
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const request = u.protocol === 'https:' ? httpsRequestOf : httpRequestOf;
    const req = request({
      ...(u.protocol === 'https:' ? { ca: opts.ca } : {}),
      hostname: u.hostname,
      port: u.port,
      path: `${u.pathname}${u.search}`,
      method: opts.method ?? 'GET',
      headers,
      agent: false,
      timeout: opts.timeoutMs ?? 5000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
