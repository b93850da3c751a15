import { httpRequest, type EchoReply, type Federation } from '../harness/index.js';
import { endpointSlice, service } from '../kube/manifests.js';

/** Applies manifests (a list of JSON documents) to a cluster with kubectl create. */
export async function create(fed: Federation, cluster: string, docs: string[]): Promise<void> {
  // A stream starting with '---' is read as YAML (JSON documents are valid YAML); one starting with
  // '{' would be read as a single JSON stream.
  await fed.kubectl(cluster, ['create', '-f', '-'], `---\n${docs.join('\n---\n')}\n`);
}

export async function remove(fed: Federation, cluster: string, args: string[]): Promise<void> {
  await fed.kubectl(cluster, ['delete', ...args]);
}

/** A Service with one echo endpoint at `address` (the stand-in only); the echo reply names the service. */
export function serviceWithEndpoint(name: string, address: string): string[] {
  return [service(name), endpointSlice(name, [{ address }])];
}

/**
 * A Service answered by an echo server naming it, on a real API server (startFederation's
 * `kube: 'real'`), which refuses loopback addresses in EndpointSlices: a NodePort Service, reached
 * on the cluster's Node, where the harness's echo fleet answers for it.
 */
export function nodePortService(name: string): string {
  return service(name, { type: 'NodePort' });
}

/** Which service answered a request through the edge, or the HTTP status when none did. */
export async function whoAnswers(edgeUrl: string, host: string, path: string): Promise<string> {
  const r = await httpRequest(`${edgeUrl}${path}`, { host });
  if (r.status !== 200) return String(r.status);
  return String(r.json<EchoReply>().service);
}
