import { RESOURCES, type KubeResource } from '../kube/resources.js';
import type { KubeApiServer } from '../kube/server.js';
import type { StoredEvent } from '../kube/store.js';
import { startEchoServer, type EchoServer } from './echo.js';

interface SliceEndpoint {
  addresses?: string[];
}

/**
 * An echo server for every endpoint address in 127.0.0.0/8 that a cluster's EndpointSlices name,
 * created and removed as the slices change. Each answers JSON saying cluster, zone, namespace,
 * service and endpoint.
 */
export class EchoFleet {
  private readonly servers = new Map<string, EchoServer>();
  private readonly wanted = new Map<string, Map<string, { address: string; port: number; meta: Record<string, unknown> }>>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly unsubscribes: Array<() => void> = [];
  /** Endpoints that refuse connections on purpose (address:port). */
  private readonly failed = new Set<string>();
  /** Endpoints that accept and never answer on purpose. */
  private readonly hung = new Set<string>();

  /** Follows one cluster's EndpointSlices. */
  follow(cluster: string, zone: string, api: KubeApiServer): void {
    const resource = RESOURCES.find((r) => r.plural === 'endpointslices') as KubeResource;
    for (const o of api.store.list(resource)) this.onSlice(cluster, zone, 'ADDED', o as unknown as Record<string, unknown>);
    this.unsubscribes.push(api.store.subscribe((e: StoredEvent) => {
      if (e.plural === 'endpointslices') this.onSlice(cluster, zone, e.type, e.object as unknown as Record<string, unknown>);
    }));
  }

  private onSlice(cluster: string, zone: string, type: string, o: Record<string, unknown>): void {
    const meta = o.metadata as { namespace?: string; name?: string; labels?: Record<string, string> };
    const sliceKey = `${cluster}/${meta.namespace}/${meta.name}`;
    const eps = new Map<string, { address: string; port: number; meta: Record<string, unknown> }>();
    if (type !== 'DELETED') {
      const ports = ((o.ports as Array<{ port?: number }> | undefined) ?? []).map((p) => p.port).filter((p): p is number => typeof p === 'number');
      for (const ep of (o.endpoints as SliceEndpoint[] | undefined) ?? []) {
        for (const address of ep.addresses ?? []) {
          if (!address.startsWith('127.')) continue;
          for (const port of ports) {
            eps.set(`${address}:${port}`, {
              address, port,
              meta: { cluster, zone: (ep as { zone?: string }).zone ?? zone, namespace: meta.namespace, service: meta.labels?.['kubernetes.io/service-name'] },
            });
          }
        }
      }
    }
    this.wanted.set(sliceKey, eps);
    this.chain = this.chain.then(() => this.converge()).catch(() => undefined);
  }

  private async converge(): Promise<void> {
    const all = new Map<string, { address: string; port: number; meta: Record<string, unknown> }>();
    for (const m of this.wanted.values()) for (const [k, v] of m) all.set(k, v);
    for (const [k, s] of this.servers) {
      if (!all.has(k) || this.failed.has(k)) {
        this.servers.delete(k);
        await s.stop();
      }
    }
    for (const [k, s] of this.servers) s.hang = this.hung.has(k);
    for (const [k, v] of all) {
      if (this.servers.has(k) || this.failed.has(k)) continue;
      try {
        const srv = await startEchoServer(v.address, v.meta, v.port);
        srv.hang = this.hung.has(k);
        this.servers.set(k, srv);
      } catch {
        // the port is taken on that address: the endpoint stays unanswered, as a broken pod would
      }
    }
  }

  /** Waits until the fleet serves exactly what the slices name. */
  async settled(): Promise<void> {
    await this.chain;
  }

  endpoints(): string[] {
    return [...this.servers.keys()].sort();
  }

  /**
   * Fails endpoints abruptly until recovered: `refuse` closes them (connections refused), `hang`
   * accepts connections and never answers. Returns the endpoints hit.
   */
  async fail(match: (meta: Record<string, unknown>, endpoint: string) => boolean, mode: 'refuse' | 'hang' = 'refuse'): Promise<string[]> {
    const hit: string[] = [];
    for (const m of this.wanted.values()) {
      for (const [k, v] of m) {
        if (!match(v.meta, k)) continue;
        hit.push(k);
        if (mode === 'refuse') this.failed.add(k);
        else this.hung.add(k);
      }
    }
    this.chain = this.chain.then(() => this.converge());
    await this.chain;
    return hit;
  }

  async recover(): Promise<void> {
    this.failed.clear();
    this.hung.clear();
    this.chain = this.chain.then(() => this.converge());
    await this.chain;
  }

  /** Every endpoint the slices name, with its metadata and whether it is failed. */
  describe(): Array<{ endpoint: string; meta: Record<string, unknown>; state: 'up' | 'refusing' | 'hanging' }> {
    const out = new Map<string, { endpoint: string; meta: Record<string, unknown>; state: 'up' | 'refusing' | 'hanging' }>();
    for (const m of this.wanted.values()) {
      for (const [k, v] of m) out.set(k, { endpoint: k, meta: v.meta, state: this.failed.has(k) ? 'refusing' : this.hung.has(k) ? 'hanging' : 'up' });
    }
    return [...out.values()].sort((a, b) => a.endpoint.localeCompare(b.endpoint));
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribes) u();
    await this.chain;
    for (const s of this.servers.values()) await s.stop();
    this.servers.clear();
  }
}
