import { createHash } from 'node:crypto';
import type { CoreV1Api, V1Ingress } from '@kubernetes/client-node';

/**
 * Writes Kubernetes Events on Ingresses, once per Ingress uid, reason and message: the Event's name
 * is derived from them, so a restarted spoke finds its Events already there (409) instead of
 * repeating them.
 */
export class EventRecorder {
  private readonly written = new Set<string>();

  constructor(private readonly core: CoreV1Api, private readonly cluster: string) {}

  async ingressEvent(ing: V1Ingress, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const ns = ing.metadata?.namespace ?? 'default';
    const id = createHash('sha256').update(`${ing.metadata?.uid}|${reason}|${message}`).digest('hex').slice(0, 16);
    if (this.written.has(id)) return;
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: ns,
      body: {
        metadata: { name: `${ing.metadata?.name}.${id}`, namespace: ns },
        involvedObject: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: ns, name: ing.metadata?.name, uid: ing.metadata?.uid },
        reason, message, type, count: 1, firstTimestamp: now, lastTimestamp: now,
        source: { component: 'ingressfed' }, reportingComponent: 'ingressfed.io/hub', reportingInstance: `spoke-${this.cluster}`,
      },
    }).catch((err: unknown) => {
      // 409: the Event exists already (a restarted spoke); anything else is for the caller to retry.
      if (!String((err as { code?: unknown }).code ?? (err as Error).message).includes('409')) throw err;
    });
    this.written.add(id);
  }
}
