import type { AddressInfo } from 'node:net';
import { buildHubApi, connectHub, type Hub, type ApiToken, type EdgeConfig, type HubApi, type HubOptions } from '@ingressfed/hub';
import { startRedis, type RedisServer } from './redis.js';
import { Spoke } from '@ingressfed/spoke';
import { EchoFleet } from './echo-fleet.js';
import { startLocalDataPlane, type LocalDataPlane } from './dataplane.js';
import { startKubeStandIn, type KubeCluster, type KubeStandIn } from './kube.js';
import { startNodePortCluster } from './kubernetes.js';
import { TEST_CLUSTERS, startNats, type NatsServer } from './nats.js';
import { makeTestCa, type TestCa } from './certs.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { stopAllProbers } from './load.js';
import { newSealingKeyPair } from '@ingressfed/schemas';

/** Where the harness's endpoints (echo servers) listen. */
export const LOOPBACK = '127.0.0.0/8';
import { freePort } from './ports.js';

export interface FederationOptions {
  clusters: Array<{ name: string; zone: string }>;
  /**
   * `real`: each cluster is a real kube-apiserver with one Ready Node on a loopback address, and
   * the spokes (as deploy/spoke-node-ports' ServiceAccount) reach Services through their node
   * ports: a real API server refuses loopback addresses in EndpointSlices. `standin` (the
   * default): the project's stand-in, whose EndpointSlices may name the echo servers directly.
   */
  kube?: 'real' | 'standin';
  /** `proxied`: the hubs reach the edge's Data Plane API through a TCP proxy (FederatedEdge.proxy). */
  edges?: Array<{ name: string; zone: string; bindPort?: number; validateCmd?: string; spareBackends?: number; proxied?: boolean; https?: boolean; defaultCertificate?: { cert: string; key: string } }>;
  /** Give the hubs a sealing key pair and the spokes its public key: TLS Secrets are published and served (edges with `https`). */
  sealing?: boolean;
  reloadDelaySeconds?: number;
  heartbeatIntervalMs?: number;
  endpointMode?: 'pod' | 'nodeport' | 'loadbalancer';
  hub?: Partial<Pick<HubOptions, 'staleAfterMs' | 'expireAfterMs' | 'resyncIntervalMs' | 'fullRecomputeIntervalMs' | 'leaseTtlMs' | 'clusters' | 'hostPolicy'>>;
  /** Start redis-server and give the hubs the leader lease, drains and the model copy. */
  redis?: boolean;
  /** Serve the hub API with these tokens. */
  api?: { tokens: ApiToken[] };
  /**
   * TLS on every channel, with certificates from one test CA: NATS (mutual TLS), Redis (mutual TLS),
   * the Data Plane APIs (HTTPS) and the hub API (HTTPS).
   */
  tls?: boolean;
  log?: (line: string) => void;
}

export interface FederatedCluster {
  name: string;
  zone: string;
  kube: KubeCluster;
  spoke: Spoke;
}

export interface FederatedEdge {
  config: EdgeConfig;
  dp: LocalDataPlane;
  /** The HTTP entry point of this edge. */
  url: string;
  /** With `proxied`: the proxy between the hubs and the Data Plane API. */
  proxy?: TcpProxy;
  /** With `https`: the HTTPS port of this edge (on 127.0.0.1). */
  httpsPort?: number;
}

/** A whole federation on loopback: NATS, per cluster an API server and a spoke, edges, the hub, echo backends. */
export interface Federation {
  nats: NatsServer;
  clusters: Map<string, FederatedCluster>;
  edges: FederatedEdge[];
  hub: Hub;
  /** The hub API's base URL, when `api` was asked for. */
  apiUrl: string | undefined;
  /** With `tls`: the CA of every certificate. */
  ca: TestCa | undefined;
  redis: RedisServer | undefined;
  echo: EchoFleet;
  /** Another hub on the same NATS, Redis and edges, with its own API. */
  startStandbyHub(): Promise<{ hub: Hub; apiUrl: string | undefined; stop: (opts?: { releaseLease?: boolean }) => Promise<void> }>;
  logs: string[];
  /** A cluster's stand-in, for its fault controls (throws for a real cluster). */
  standIn(cluster: string): KubeStandIn;
  /** Runs the real kubectl in a cluster; resolves with its output, rejects with its error output. */
  kubectl(cluster: string, args: string[], input?: string): Promise<string>;
  newSpoke(cluster: string): Spoke;
  restartSpoke(cluster: string): Promise<void>;
  restartHub(opts?: { releaseLease?: boolean }): Promise<Hub>;
  /** Stops the hub as a crash would: its lease is not given up and runs out. */
  killHub(): Promise<void>;
  stop(): Promise<void>;
}

export async function startFederation(opts: FederationOptions): Promise<Federation> {
  const logs: string[] = [];
  const log = (who: string) => (level: string, msg: string, f?: Record<string, unknown>): void => {
    const line = `${who} ${level} ${msg} ${JSON.stringify(f ?? {})}`;
    logs.push(line);
    if (logs.length > 5000) logs.splice(0, 1000);
    opts.log?.(line);
  };
  const ca = opts.tls ? makeTestCa('federation') : undefined;
  const nats = await startNats({ clusters: [...new Set([...opts.clusters.map((c) => c.name), ...TEST_CLUSTERS])], ...(ca ? { tls: { ca, verify: true } } : {}) });
  const redis = opts.redis ? await startRedis(ca ? { tls: { ca, verify: true } } : {}) : undefined;
  const apiCert = ca?.server('hub-api');
  let api: HubApi | undefined;
  const serveApi = async (hub: Hub): Promise<{ api: HubApi | undefined; url: string | undefined }> => {
    if (!opts.api) return { api: undefined, url: undefined };
    const a = await buildHubApi(hub, opts.api.tokens, apiCert ? { https: { cert: apiCert.cert, key: apiCert.key } } : {});
    await a.listen({ host: '127.0.0.1', port: 0 });
    return { api: a, url: `${apiCert ? 'https' : 'http'}://127.0.0.1:${(a.server.address() as AddressInfo).port}` };
  };
  const echo = new EchoFleet();
  const sealing = opts.sealing ? newSealingKeyPair() : undefined;
  const clusters = new Map<string, FederatedCluster>();
  const edges: FederatedEdge[] = [];
  const fed = { nats, redis, clusters, edges, echo, logs, apiUrl: undefined, ca } as Partial<Federation> & { hub?: Hub };
  const real = opts.kube === 'real';
  const newSpoke = (name: string): Spoke => {
    const c = clusters.get(name);
    if (!c) throw new Error(`no cluster ${name}`);
    return new Spoke({
      cluster: name, zone: c.zone, endpointMode: opts.endpointMode ?? (real ? 'nodeport' : 'pod'), kubeconfigPath: c.kube.spokeKubeconfig, natsUrl: nats.url,
      natsUser: nats.spoke(name).user, natsPassword: nats.spoke(name).password, natsTls: nats.clientTls(name),
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 1000, log: log(`spoke/${name}`), ...(sealing ? { hubSealingKey: sealing.publicKeyPem } : {}),
    });
  };
  try {
    for (const [i, c] of opts.clusters.entries()) {
      const kube = real ? await startNodePortCluster(c.name, c.zone, [`127.0.${200 + i}.1`]) : await startKubeStandIn(c.name);
      clusters.set(c.name, { name: c.name, zone: c.zone, kube, spoke: undefined as unknown as Spoke });
      if (kube.kind === 'standin') echo.follow(c.name, c.zone, (kube as KubeStandIn).api);
      else await echo.followNodePorts(c.name, c.zone, kube.kubeconfig);
    }
    for (const e of opts.edges ?? [{ name: 'edge-a', zone: opts.clusters[0]?.zone ?? 'zone-a' }]) {
      const dp = await startLocalDataPlane({ reloadDelaySeconds: opts.reloadDelaySeconds ?? 0.1, validateCmd: e.validateCmd, tls: ca });
      const bindPort = e.bindPort ?? (await freePort());
      const proxy = e.proxied ? await startTcpProxy(dp.url) : undefined;
      const httpsPort = e.https ? await freePort() : undefined;
      const config: EdgeConfig = {
        name: e.name, zone: e.zone, url: proxy?.url ?? dp.url, username: dp.username, password: dp.password, ca: dp.ca,
        bindAddress: '127.0.0.1', bindPort, publicAddress: '127.0.0.1', ...(e.spareBackends === undefined ? {} : { spareBackends: e.spareBackends }),
        ...(httpsPort === undefined ? {} : { httpsBindPort: httpsPort }),
        ...(e.defaultCertificate ? { defaultCertificate: e.defaultCertificate } : {}),
      };
      edges.push({ config, dp, url: `http://127.0.0.1:${bindPort}`, proxy, httpsPort });
    }
    for (const c of clusters.values()) {
      c.spoke = newSpoke(c.name);
      await c.spoke.start();
    }
    let hubs = 0;
    const makeHub = (): Promise<Hub> => connectHub({ natsUrl: nats.url, natsUser: nats.auth.hub.user, natsPassword: nats.auth.hub.password, natsTls: nats.clientTls('hub'), redisUrl: redis?.url, redisTls: redis?.clientTls, edges: edges.map((e) => e.config), resyncIntervalMs: 2000,
      // The test's endpoints are echo servers on loopback addresses, refused by default.
      allowedEndpointCidrs: { '*': [LOOPBACK] }, ...(sealing ? { sealingKeys: [sealing.privateKeyPem] } : {}), ...opts.hub, log: log(`hub${++hubs}`) });
    fed.hub = await makeHub();
    await fed.hub.start();
    ({ api, url: fed.apiUrl } = await serveApi(fed.hub));
    const standbys: Array<{ hub: Hub; api: HubApi | undefined }> = [];
    let killed = false;
    return Object.assign(fed, {
      standIn(cluster: string) {
        const kube = clusters.get(cluster)?.kube;
        if (kube?.kind !== 'standin') throw new Error(`cluster ${cluster} is not a stand-in`);
        return kube as KubeStandIn;
      },
      async kubectl(cluster: string, args: string[], input?: string) {
        const kube = clusters.get(cluster)?.kube;
        if (!kube) throw new Error(`no cluster ${cluster}`);
        const r = await kube.kubectl(args, input);
        if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} in ${cluster}: ${r.stderr.trim()}`);
        return r.stdout;
      },
      newSpoke,
      async restartSpoke(name: string) {
        const c = clusters.get(name) as FederatedCluster;
        await c.spoke.stop();
        c.spoke = newSpoke(name);
        await c.spoke.start();
      },
      async restartHub(o?: { releaseLease?: boolean }) {
        await api?.close();
        await fed.hub?.stop(o);
        fed.hub = await makeHub();
        await fed.hub.start();
        ({ api, url: fed.apiUrl } = await serveApi(fed.hub));
        return fed.hub;
      },
      async killHub() {
        await api?.close();
        api = undefined;
        killed = true;
        await fed.hub?.stop({ releaseLease: false });
      },
      async startStandbyHub() {
        const hub = await makeHub();
        await hub.start();
        const served = await serveApi(hub);
        const entry = { hub, api: served.api };
        standbys.push(entry);
        return {
          hub, apiUrl: served.url,
          async stop(o?: { releaseLease?: boolean }) {
            await served.api?.close();
            await hub.stop(o);
            standbys.splice(standbys.indexOf(entry), 1);
          },
        };
      },
      async stop() {
        await stopAllProbers();
        for (const s of standbys) {
          await s.api?.close();
          await s.hub.stop();
        }
        await api?.close();
        if (!killed) await fed.hub?.stop();
        for (const c of clusters.values()) await c.spoke?.stop();
        await echo.stop();
        for (const e of edges) await e.proxy?.stop();
        for (const e of edges) await e.dp.stop();
        for (const c of clusters.values()) await c.kube.stop();
        await nats.stop();
        await redis?.stop();
        ca?.remove();
      },
    }) as Federation;
  } catch (err) {
    await fed.hub?.stop().catch(() => undefined);
    for (const c of clusters.values()) await c.spoke?.stop().catch(() => undefined);
    await echo.stop().catch(() => undefined);
    for (const e of edges) await e.proxy?.stop().catch(() => undefined);
    for (const e of edges) await e.dp.stop().catch(() => undefined);
    for (const c of clusters.values()) await c.kube.stop().catch(() => undefined);
    await nats.stop().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    ca?.remove();
    throw err;
  }
}
