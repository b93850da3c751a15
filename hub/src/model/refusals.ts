import { backendKey, ingressKey, type FederatedModel } from './types.js';

/** Endpoints the endpoint policy refused, as their owners see them. */
export interface EndpointRefusals {
  /** Ingress key → why some of its endpoints are not used (only Ingresses of the cluster that sent them). */
  byIngress: Map<string, string[]>;
  /** Cluster → number of refused endpoints. */
  byCluster: Map<string, number>;
  /** One line per refused endpoint, in model order (the same text while nothing changed). */
  lines: string[];
}

const NONE: EndpointRefusals = { byIngress: new Map(), byCluster: new Map(), lines: [] };
const memo = new WeakMap<FederatedModel['backends'], EndpointRefusals>();

/**
 * Who is told of each refused endpoint: the Ingresses of the same cluster whose routes lead to its
 * backend (another cluster's Ingress is not told of this cluster's endpoints). Computed once per
 * set of backends; without refusals it costs a pass over the backends.
 */
export function endpointRefusals(model: Pick<FederatedModel, 'backends' | 'routes'>): EndpointRefusals {
  const hit = memo.get(model.backends);
  if (hit) return hit;
  const withRefusals = model.backends.filter((b) => b.refused !== undefined);
  let out = NONE;
  if (withRefusals.length > 0) {
    out = { byIngress: new Map(), byCluster: new Map(), lines: [] };
    const sources = new Map<string, Array<{ cluster: string; key: string }>>();
    for (const r of model.routes) {
      const k = backendKey(r.backend);
      const list = sources.get(k) ?? [];
      for (const s of r.sources) list.push({ cluster: s.cluster, key: ingressKey(s) });
      sources.set(k, list);
    }
    for (const b of withRefusals) {
      for (const e of b.refused ?? []) {
        const line = `endpoint ${e.address}:${e.port} of Service ${b.id.namespace}/${b.id.service} from cluster ${e.cluster} is not used: ${e.reason}`;
        out.lines.push(line);
        out.byCluster.set(e.cluster, (out.byCluster.get(e.cluster) ?? 0) + 1);
        for (const s of sources.get(backendKey(b.id)) ?? []) {
          if (s.cluster !== e.cluster) continue;
          const list = out.byIngress.get(s.key) ?? [];
          if (!list.includes(line)) list.push(line);
          out.byIngress.set(s.key, list);
        }
      }
    }
  }
  memo.set(model.backends, out);
  return out;
}
