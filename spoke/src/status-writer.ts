import type { NetworkingV1Api, V1Ingress } from '@kubernetes/client-node';
import type { KV } from '@nats-io/kv';
import { validators, type IngressStatusRecord } from '@ingressfed/schemas';
import type { EventRecorder } from './events.js';

export interface StatusWriterOptions {
  cluster: string;
  kv: KV;
  networking: NetworkingV1Api;
  events: EventRecorder;
  /** The current Ingress from the informer cache. */
  ingress: (namespace: string, name: string) => V1Ingress | undefined;
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

const sameAddresses = (ing: V1Ingress, rec: IngressStatusRecord): boolean =>
  JSON.stringify((ing.status?.loadBalancer?.ingress ?? []).map((a) => (a.ip ? { ip: a.ip } : { hostname: a.hostname }))) === JSON.stringify(rec.addresses);

/**
 * Applies the hub's per-Ingress status in this cluster: `.status.loadBalancer.ingress` set to the
 * edges' addresses, and an Event for every condition a person should see (refused, conflicted,
 * accepted), once per distinct message. Reads only this cluster's keys of the status bucket.
 */
export class IngressStatusWriter {
  private readonly latest = new Map<string, IngressStatusRecord>();
  private stop: () => void = () => undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: StatusWriterOptions) {}

  async start(): Promise<void> {
    const iter = await this.opts.kv.watch({ key: `${this.opts.cluster}.>` });
    this.stop = () => iter.stop();
    void (async () => {
      for await (const e of iter) {
        if (e.operation !== 'PUT') {
          this.latest.delete(e.key);
          continue;
        }
        let rec: unknown;
        try {
          rec = e.json();
        } catch {
          rec = undefined;
        }
        if (!validators.status.Check(rec) || (rec as IngressStatusRecord).cluster !== this.opts.cluster) {
          this.opts.log('warn', 'ignoring a malformed status record', { key: e.key });
          continue;
        }
        this.latest.set(e.key, rec as IngressStatusRecord);
        this.kick();
      }
    })();
  }

  /** Re-applies every known status (after an Ingress changed, or a status write failed). */
  kick(): void {
    this.chain = this.chain.then(() => this.applyAll()).catch((err: unknown) => {
      this.opts.log('warn', 'writing Ingress status failed', { error: (err as Error).message });
    });
  }

  async idle(): Promise<void> {
    await this.chain;
  }

  private async applyAll(): Promise<void> {
    for (const rec of this.latest.values()) {
      const ing = this.opts.ingress(rec.namespace, rec.name);
      if (!ing || ing.metadata?.uid !== rec.uid) continue; // recreated or gone: a fresh status will come
      if (!sameAddresses(ing, rec)) {
        const next: V1Ingress = { ...ing, status: { loadBalancer: { ingress: rec.addresses.map((a) => ('ip' in a ? { ip: a.ip } : { hostname: a.hostname })) } } };
        await this.opts.networking.replaceNamespacedIngressStatus({ name: rec.name, namespace: rec.namespace, body: next });
      }
      for (const c of rec.conditions) {
        if (c.status !== 'True' || !['Invalid', 'Conflicted', 'Degraded', 'Accepted'].includes(c.type)) continue;
        await this.opts.events.ingressEvent(ing, c.type === 'Accepted' ? 'Normal' : 'Warning', c.type === 'Accepted' ? 'Accepted' : c.reason, c.message);
      }
    }
  }

  close(): void {
    this.stop();
  }
}
