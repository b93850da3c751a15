import type { Federation } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service, type EndpointSpec } from '../kube/manifests.js';

/** The `web` service in every cluster, with the given endpoints, and its Ingress on web.example.test. */
export async function deployWeb(fed: Federation, endpoints: Record<string, EndpointSpec[]>, annotations: Record<string, string> = {}): Promise<void> {
  for (const [cluster, eps] of Object.entries(endpoints)) {
    const docs = [ingressClass(), service('web'), endpointSlice('web', eps), ingress('web', [{ host: 'web.example.test', paths: [{ path: '/', service: 'web' }] }], { annotations })];
    await fed.kubectl(cluster, ['create', '-f', '-'], `---\n${docs.join('\n---\n')}\n`);
  }
}

/** The first moment (ms) after which every result came from `zone`, or undefined if none. */
export function settledOn<T extends { at: number; zone?: string }>(results: T[], zone: string): number | undefined {
  const sorted = [...results].sort((a, b) => a.at - b.at);
  let last = -1;
  sorted.forEach((r, i) => {
    if (r.zone !== zone) last = i;
  });
  return last === sorted.length - 1 ? undefined : (sorted[last + 1]?.at ?? 0);
}
