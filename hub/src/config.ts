import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isDnsLabel, isZoneName } from '@ingressfed/schemas';
import type { ApiToken } from './api/server.js';
import type { EdgeConfig } from './apply/edge.js';
import { cidrProblem } from './model/endpoint-policy.js';

export interface HubConfig {
  nats: { url: string; user?: string; password?: string };
  redis?: { url: string };
  /** Where the hub API listens (default 127.0.0.1:9090) and the bearer tokens it accepts. */
  api?: { host?: string; port?: number; tokens?: ApiToken[] };
  leaseTtlMs?: number;
  edges: EdgeConfig[];
  resyncIntervalMs?: number;
  /** How often the model is recomputed from every record, in slices, as a check of the incremental merge (default 10 min). */
  fullRecomputeIntervalMs?: number;
  staleAfterMs?: number;
  expireAfterMs?: number;
  /** The federation's clusters; entries of any other are refused (default: whatever NATS lets write). */
  clusters?: string[];
  /** Endpoint CIDRs a cluster (or every cluster, `*`) may use although refused by default (loopback, link-local…). */
  allowedEndpointCidrs?: Record<string, string[]>;
}

/** Reads and checks the hub configuration file; every problem is reported with its field. */
export function loadHubConfig(path: string): HubConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read hub configuration ${path}: ${(err as Error).message}`, { cause: err });
  }
  const problems: string[] = [];
  const c = raw as Partial<HubConfig>;
  if (typeof c.nats?.url !== 'string') problems.push('nats.url: required');
  if (!Array.isArray(c.edges) || c.edges.length === 0) problems.push('edges: at least one edge is required');
  const names = new Set<string>();
  (c.edges ?? []).forEach((e, i) => {
    const at = `edges[${i}]`;
    if (!isDnsLabel(String(e.name))) problems.push(`${at}.name: must be a DNS label`);
    if (names.has(e.name)) problems.push(`${at}.name: duplicate edge name ${e.name}`);
    names.add(e.name);
    if (typeof e.url !== 'string' || !/^https?:\/\//.test(e.url)) problems.push(`${at}.url: must be an http(s) URL`);
    if (typeof e.username !== 'string' || typeof e.password !== 'string') problems.push(`${at}.username/password: required`);
    if (!isZoneName(String(e.zone))) problems.push(`${at}.zone: must be a zone name`);
    if (isIP(String(e.bindAddress)) === 0) problems.push(`${at}.bindAddress: must be an IP address`);
    if (!Number.isInteger(e.bindPort) || e.bindPort < 1 || e.bindPort > 65535) problems.push(`${at}.bindPort: must be a port`);
    if (typeof e.publicAddress !== 'string') problems.push(`${at}.publicAddress: required`);
    if (e.maxCheckedSlots !== undefined && !(Number.isInteger(e.maxCheckedSlots) && e.maxCheckedSlots >= 0)) problems.push(`${at}.maxCheckedSlots: must be a whole number`);
    if (e.spareBackends !== undefined && !(Number.isInteger(e.spareBackends) && e.spareBackends >= 0 && e.spareBackends <= 1000)) problems.push(`${at}.spareBackends: must be a whole number from 0 to 1000`);
  });
  (c.api?.tokens ?? []).forEach((t, i) => {
    if (typeof t.name !== 'string' || typeof t.token !== 'string' || t.token.length < 16) problems.push(`api.tokens[${i}]: needs a name and a token of at least 16 characters`);
    if (t.role !== 'read' && t.role !== 'admin') problems.push(`api.tokens[${i}].role: read or admin`);
  });
  for (const f of ['resyncIntervalMs', 'fullRecomputeIntervalMs', 'staleAfterMs', 'expireAfterMs', 'leaseTtlMs'] as const) {
    const v = c[f];
    if (v !== undefined && !(Number.isInteger(v) && v >= 100)) problems.push(`${f}: must be a whole number of milliseconds, at least 100`);
  }
  if (c.clusters !== undefined && !(Array.isArray(c.clusters) && c.clusters.every((x) => typeof x === 'string' && isDnsLabel(x)))) {
    problems.push('clusters: must be a list of cluster names (DNS labels)');
  }
  for (const [cluster, cidrs] of Object.entries(c.allowedEndpointCidrs ?? {})) {
    const at = `allowedEndpointCidrs.${cluster.slice(0, 63)}`;
    if (cluster !== '*' && !isDnsLabel(cluster)) problems.push(`${at}: the key must be a cluster name or *`);
    const problem = Array.isArray(cidrs) && cidrs.every((x) => typeof x === 'string') ? cidrProblem(cidrs) : 'must be a list of CIDRs';
    if (problem) problems.push(`${at}: ${problem}`);
  }
  if (problems.length > 0) throw new Error(`invalid hub configuration ${path}:\n  ${problems.join('\n  ')}`);
  return c as HubConfig;
}
