import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectHub, type Hub, type HubOptions } from '@ingressfed/hub';
import { STATE_BUCKET, heartbeatKey, type Heartbeat } from '@ingressfed/schemas';
import { Spoke, type SpokeOptions } from '@ingressfed/spoke';
import { startKubeStandIn, startKubernetes, startNats, type KubeCluster, type KubeStandIn, type NatsServer } from '../harness/index.js';
import type { KubeApiOptions } from '../kube/server.js';

// One cluster's spoke against a real nats-server and a Kubernetes API server (the real one with
// `real`, else the stand-in with its fault controls), and (when a test
// needs the hub's view) a hub on the same NATS without edges: it reads, merges and writes Ingress
// statuses, and programs nothing.

export interface KubeEvent { involvedObject: { name: string; uid?: string }; reason: string; message: string; type: string }
export interface LogLine { at: number; level: string; msg: string; fields: Record<string, unknown> }

export interface SpokeRig<K extends KubeCluster = KubeStandIn> {
  nats: NatsServer;
  kube: K;
  nc: NatsConnection;
  kv: KV;
  spoke: Spoke;
  hub: Hub | undefined;
  /** The spoke's log, with when each line was written. */
  logs: LogLine[];
  /** Runs the real kubectl; resolves with its output, rejects with its error output. */
  kubectl(args: string[], input?: string): Promise<string>;
  /** The Events on one object, by name. */
  events(name: string): Promise<KubeEvent[]>;
  /** The value of a key of the state bucket, with the bucket's revision of it. */
  entry<T = Record<string, unknown>>(key: string): Promise<{ revision: number; value: T } | undefined>;
  heartbeat(): Promise<Heartbeat | undefined>;
  stop(): Promise<void>;
}

export const CLUSTER = 'alpha';

interface RigOptions {
  spoke?: Partial<SpokeOptions>;
  hub?: boolean | Pick<HubOptions, 'sealingKeys'>;
}

/** A rig on a real kube-apiserver: the spoke runs as deploy/spoke's ServiceAccount. */
export function startRealSpokeRig(opts: RigOptions = {}): Promise<SpokeRig<KubeCluster>> {
  return startRig(() => startKubernetes(CLUSTER), opts);
}

/** A rig on the stand-in, for the faults a real API server cannot be made to show on demand. */
export function startSpokeRig(opts: RigOptions & { kube?: KubeApiOptions } = {}): Promise<SpokeRig> {
  return startRig(() => startKubeStandIn(CLUSTER, opts.kube), opts);
}

async function startRig<K extends KubeCluster>(startKube: () => Promise<K>, opts: RigOptions): Promise<SpokeRig<K>> {
  const logs: LogLine[] = [];
  // What is started, stopped in reverse order: by stop(), or at once if starting fails half-way.
  const started: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const s of started.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    const nats = await startNats();
    started.push(() => nats.stop());
    const kube = await startKube();
    started.push(() => kube.stop());
    const nc = await nats.connectAsHub();
    started.push(() => nc.close());
    const kv = await new Kvm(jetstream(nc)).open(STATE_BUCKET);
    const hub = opts.hub ? await connectHub({ natsUrl: nats.url, natsUser: nats.auth.hub.user, natsPassword: nats.auth.hub.password, edges: [], log: () => undefined, ...(opts.hub === true ? {} : opts.hub) }) : undefined;
    if (hub) {
      started.push(() => hub.stop());
      await hub.start();
    }
    const spoke = new Spoke({
      cluster: CLUSTER, zone: 'zone-a', endpointMode: 'pod', kubeconfigPath: kube.spokeKubeconfig, natsUrl: nats.url,
      natsUser: nats.spoke(CLUSTER).user, natsPassword: nats.spoke(CLUSTER).password, heartbeatIntervalMs: 200,
      log: (level, msg, fields) => logs.push({ at: Date.now(), level, msg, fields: fields ?? {} }),
      ...opts.spoke,
    });
    started.push(() => spoke.stop());
    await spoke.start();
    const kubectl = async (args: string[], input?: string): Promise<string> => {
      const r = await kube.kubectl(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
      return r.stdout;
    };
    return {
      nats, kube, nc, kv, spoke, hub, logs, kubectl, stop,
      events: async (name) => (JSON.parse(await kubectl(['get', 'events', '-o', 'json'])) as { items: KubeEvent[] }).items.filter((e) => e.involvedObject.name === name),
      async entry<T>(key: string) {
        const e = await kv.get(key);
        return e && e.operation === 'PUT' ? { revision: e.revision, value: e.json<T>() } : undefined;
      },
      heartbeat: async () => (await kv.get(heartbeatKey(CLUSTER)))?.json<Heartbeat>(),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
