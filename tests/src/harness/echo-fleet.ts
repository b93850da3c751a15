import { CoreV1Api, KubeConfig, makeInformer, type Informer, type KubernetesObject, type V1Node, type V1Service } from '@kubernetes/client-node';
import { RESOURCES, type KubeResource } from '../kube/resources.js';
import type { KubeApiServer } from '../kube/server.js';
import type { StoredEvent } from '../kube/store.js';
import { startEchoServer, type EchoServer } from './echo.js';

interface SliceEndpoint {
  addresses?: string[];
}

type Wanted = Map<string, { address: string; port: number; meta: Record<string, unknown> }>;

/**
 * An echo server for every endpoint in 127.0.0.0/8 a cluster names, created and removed as the
 * cluster changes: on the stand-in, its EndpointSlices' addresses; on a real API server, which
 * refuses loopback addresses in EndpointSlices, its Services' node ports on its Nodes' loopback
 * InternalIPs. Each answers JSON saying cluster, zone, namespace, service and endpoint.
 */
export class EchoFleet {
  private readonly servers = new Map<string, EchoServer>();
  private readonly wanted = new Map<string, Wanted>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly unsubscribes: Array<() => void | Promise<void>> = [];
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

  /**
   * Follows a real cluster's NodePort (and LoadBalancer) Services and its Nodes: an echo server on
   * every loopback InternalIP of a Ready Node, at every node port. Resolves once both are listed.
   */
  async followNodePorts(cluster: string, zone: string, kubeconfig: string): Promise<void> {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const services = makeInformer<V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
    const nodes = makeInformer<V1Node>(kc, '/api/v1/nodes', () => core.listNode());
    const update = (): void => {
      this.wanted.set(`${cluster}/node-ports`, nodePortEndpoints(cluster, zone, services.list(), nodes.list()));
      this.chain = this.chain.then(() => this.converge()).catch(() => undefined);
    };
    let stopped = false;
    for (const inf of [services, nodes] as Array<Informer<KubernetesObject>>) {
      for (const ev of ['add', 'update', 'delete'] as const) inf.on(ev, update);
      // The informer stops on an error: start it again (its cache is kept), unless the fleet stopped.
      inf.on('error', () => {
        if (!stopped) setTimeout(() => void (stopped ? undefined : inf.start().catch(() => undefined)), 200).unref();
      });
      this.unsubscribes.push(() => {
        stopped = true;
        return inf.stop();
      });
    }
    await Promise.all([services.start(), nodes.start()]);
    update();
  }

  private onSlice(cluster: string, zone: string, type: string, o: Record<string, unknown>): void {
    const meta = o.metadata as { namespace?: string; name?: string; labels?: Record<string, string> };
    const sliceKey = `${cluster}/${meta.namespace}/${meta.name}`;
    const eps: Wanted = new Map();
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
    for (const u of this.unsubscribes) await u();
    await this.chain;
    for (const s of this.servers.values()) await s.stop();
    this.servers.clear();
  }
}

/** The loopback node-port endpoints of a cluster: every Ready Node's InternalIP, every Service node port. */
function nodePortEndpoints(cluster: string, zone: string, services: readonly V1Service[], nodes: readonly V1Node[]): Wanted {
  const out: Wanted = new Map();
  for (const n of nodes) {
    const address = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    const ready = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (!address?.startsWith('127.') || !ready) continue;
    for (const svc of services) {
      for (const p of svc.spec?.ports ?? []) {
        if (typeof p.nodePort !== 'number') continue;
        out.set(`${address}:${p.nodePort}`, {
          address, port: p.nodePort,
          meta: { cluster, zone: n.metadata?.labels?.['topology.kubernetes.io/zone'] ?? zone, namespace: svc.metadata?.namespace, service: svc.metadata?.name },
        });
      }
    }
  }
  return out;
}
