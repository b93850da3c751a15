import { Agent, request } from 'node:http';
import { httpRequest } from './http.js';

export interface LoadResult {
  /** ms since the load started, when the request was sent */
  at: number;
  /** ms since the load started, when the answer (or the error) came */
  doneAt: number;
  status: number;
  /** The echo reply's zone/cluster, when it answered. */
  zone?: string;
  cluster?: string;
  error?: string;
}

export interface LoadSummary {
  results: LoadResult[];
  durationMs: number;
  requestsPerSecond: number;
  failed: number;
}

/**
 * A bounded load: `concurrency` keep-alive workers send GETs with the given Host for `durationMs`,
 * then stop. Every result is kept with its time, so a test can see when traffic moved.
 */
export async function runLoad(opts: { url: string; host: string; concurrency: number; durationMs: number; timeoutMs?: number; onStart?: () => void }): Promise<LoadSummary> {
  const u = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const results: LoadResult[] = [];
  const start = Date.now();
  const one = (): Promise<void> => new Promise((resolve) => {
    const at = Date.now() - start;
    const req = request({ hostname: u.hostname, port: u.port, path: u.pathname, method: 'GET', headers: { host: opts.host }, agent, timeout: opts.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const r: LoadResult = { at, doneAt: Date.now() - start, status: res.statusCode ?? 0 };
        if (r.status === 200) {
          try {
            const j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { zone?: string; cluster?: string };
            r.zone = j.zone;
            r.cluster = j.cluster;
          } catch {
            r.error = 'unparsable body';
          }
        }
        results.push(r);
        resolve();
      });
      res.on('error', (err) => {
        results.push({ at, doneAt: Date.now() - start, status: 0, error: err.message });
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      results.push({ at, doneAt: Date.now() - start, status: 0, error: err.message });
      resolve();
    });
    req.end();
  });
  opts.onStart?.();
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    while (Date.now() - start < opts.durationMs) await one();
  }));
  agent.destroy();
  const durationMs = Date.now() - start;
  return { results, durationMs, requestsPerSecond: (results.length * 1000) / durationMs, failed: results.filter((r) => r.status !== 200 || r.error).length };
}

export interface Prober {
  /** Stops probing and reports how many requests were sent and how many did not answer 200. */
  stop(): Promise<{ requests: number; failures: number }>;
}

/** Sends one GET with the given Host every few milliseconds until stopped, counting non-200 answers. */
export function startProber(url: string, host: string, intervalMs = 5): Prober {
  let probing = true;
  let requests = 0;
  let failures = 0;
  const loop = (async () => {
    while (probing) {
      const r = await httpRequest(url, { host }).catch(() => ({ status: 0 }));
      requests++;
      if (r.status !== 200) failures++;
      await new Promise((res) => setTimeout(res, intervalMs));
    }
  })();
  const prober: Prober = {
    async stop() {
      probing = false;
      running.delete(prober);
      await loop;
      return { requests, failures };
    },
  };
  running.add(prober);
  return prober;
}

/** Probers not stopped yet. */
const running = new Set<Prober>();

/**
 * Stops every prober still running: a test that fails before stopping its own would otherwise leave
 * it probing, and its file's process would never exit. Federation.stop() calls it.
 */
export async function stopAllProbers(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}
