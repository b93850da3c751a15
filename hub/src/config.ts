import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { checkCertificate, sealingPrivateKey } from '@ingressfed/schemas';
import type { EdgeConfig } from './apply/edge.js';
import { cidrProblem } from './model/endpoint-policy.js';
import { hostPolicyProblems } from './model/host-policy.js';

// hub.json: its schema, checked as a whole, then what a schema cannot say (duplicates, CIDRs, hosts).
// Files it names (CAs, certificates, keys) are read once, here.

const DnsLabel = Type.String({ pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', maxLength: 63 });
const Zone = Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$', maxLength: 63 });
const Millis = Type.Integer({ minimum: 100 });
const File = Type.String({ minLength: 1 });
/** A client's TLS: the CA that signs the server's certificate, and its own certificate for mutual TLS. */
const ClientTls = Type.Object({ caFile: Type.Optional(File), certFile: Type.Optional(File), keyFile: Type.Optional(File) }, { additionalProperties: false });

const Edge = Type.Object({
  name: DnsLabel,
  url: Type.String({ pattern: '^https?://' }),
  username: Type.String(),
  password: Type.String(),
  /** The CA of the Data Plane API's certificate (https), when the system's trust store does not hold it. */
  caFile: Type.Optional(File),
  zone: Zone,
  bindAddress: Type.String(),
  bindPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  httpsBindPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  /** The certificate shown to HTTPS clients naming no host the edge has one for (default: a self-signed one the hub makes). */
  defaultCertificate: Type.Optional(Type.Object({ certFile: File, keyFile: File }, { additionalProperties: false })),
  publicAddress: Type.String(),
  maxCheckedSlots: Type.Optional(Type.Integer({ minimum: 0 })),
  spareBackends: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
}, { additionalProperties: false });

const HubConfigSchema = Type.Object({
  nats: Type.Object({ url: Type.String(), user: Type.Optional(Type.String()), password: Type.Optional(Type.String()), tls: Type.Optional(ClientTls) }, { additionalProperties: false }),
  redis: Type.Optional(Type.Object({ url: Type.String({ pattern: '^rediss?://' }), tls: Type.Optional(ClientTls) }, { additionalProperties: false })),
  /** Where the hub API listens (default 127.0.0.1:9090), the bearer tokens it accepts, and HTTPS. */
  api: Type.Optional(Type.Object({
    host: Type.Optional(Type.String()),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    tokens: Type.Optional(Type.Array(Type.Object({
      name: Type.String({ minLength: 1 }), token: Type.String({ minLength: 16 }), role: Type.Union([Type.Literal('read'), Type.Literal('admin')]),
    }, { additionalProperties: false }))),
    tls: Type.Optional(Type.Object({ certFile: File, keyFile: File }, { additionalProperties: false })),
  }, { additionalProperties: false })),
  leaseTtlMs: Type.Optional(Millis),
  edges: Type.Array(Edge, { minItems: 1 }),
  resyncIntervalMs: Type.Optional(Millis),
  /** How often the model is recomputed from every record, in slices, as a check of the incremental merge (default 10 min). */
  fullRecomputeIntervalMs: Type.Optional(Millis),
  staleAfterMs: Type.Optional(Millis),
  expireAfterMs: Type.Optional(Millis),
  /** The federation's clusters; entries of any other are refused (default: whatever NATS lets write). */
  clusters: Type.Optional(Type.Array(DnsLabel)),
  /** Endpoint CIDRs a cluster (or every cluster, `*`) may use although refused by default (loopback, link-local…). */
  allowedEndpointCidrs: Type.Optional(Type.Record(Type.String(), Type.Array(Type.String()))),
  /** The hub's sealing private keys (PEM files, X25519; current first), which open the TLS keys spokes seal. */
  sealingKeyFiles: Type.Optional(Type.Array(File, { maxItems: 8 })),
  /** Which clusters (and namespaces) may serve which hosts (see HostPolicy). */
  hostPolicy: Type.Optional(Type.Array(Type.Object({
    hosts: Type.Array(Type.String(), { minItems: 1 }), clusters: Type.Array(Type.String()), namespaces: Type.Optional(Type.Array(Type.String())),
  }, { additionalProperties: false }))),
}, { additionalProperties: false });

const check = Compile(HubConfigSchema);

type RawConfig = Static<typeof HubConfigSchema>;

/** PEM text of a client's TLS files. */
export interface ClientTlsPem { ca?: string; cert?: string; key?: string }

/** The configuration, with the files it names read. */
export interface HubConfig extends Omit<RawConfig, 'edges' | 'nats' | 'redis' | 'api'> {
  nats: Omit<RawConfig['nats'], 'tls'> & { tls?: ClientTlsPem };
  redis?: Omit<NonNullable<RawConfig['redis']>, 'tls'> & { tls?: ClientTlsPem };
  api?: Omit<NonNullable<RawConfig['api']>, 'tls'> & { tls?: { cert: string; key: string } };
  edges: EdgeConfig[];
  /** The sealing keys' PEM text, in the order of sealingKeyFiles. */
  sealingKeys: string[];
}

/** Problems the schema cannot express, each with its field. */
function semanticProblems(c: RawConfig): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  c.edges.forEach((e, i) => {
    if (names.has(e.name)) problems.push(`edges[${i}].name: duplicate edge name ${e.name}`);
    names.add(e.name);
    if (isIP(e.bindAddress) === 0) problems.push(`edges[${i}].bindAddress: must be an IP address`);
  });
  for (const [cluster, cidrs] of Object.entries(c.allowedEndpointCidrs ?? {})) {
    const at = `allowedEndpointCidrs.${cluster.slice(0, 63)}`;
    if (cluster !== '*' && !Compile(DnsLabel).Check(cluster)) problems.push(`${at}: the key must be a cluster name or *`);
    const problem = cidrProblem(cidrs);
    if (problem) problems.push(`${at}: ${problem}`);
  }
  problems.push(...hostPolicyProblems(c.hostPolicy ?? []));
  for (const [at, tls] of [['nats.tls', c.nats.tls], ['redis.tls', c.redis?.tls]] as const) {
    if (tls && (tls.certFile === undefined) !== (tls.keyFile === undefined)) problems.push(`${at}: certFile and keyFile go together`);
  }
  return problems;
}

/** Reads the files a configuration names; a file that cannot be read is a problem with its field. */
function readFiles(c: RawConfig, problems: string[]): HubConfig {
  const read = (at: string, file: string | undefined): string | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`${at}: cannot read ${file}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const clientTls = (at: string, t: RawConfig['nats']['tls']): ClientTlsPem | undefined =>
    t && { ca: read(`${at}.caFile`, t.caFile), cert: read(`${at}.certFile`, t.certFile), key: read(`${at}.keyFile`, t.keyFile) };
  const { tls: natsTls, ...nats } = c.nats;
  const redis = c.redis && { url: c.redis.url, tls: clientTls('redis.tls', c.redis.tls) };
  const apiTls = c.api?.tls && { cert: read('api.tls.certFile', c.api.tls.certFile) ?? '', key: read('api.tls.keyFile', c.api.tls.keyFile) ?? '' };
  return {
    ...c,
    nats: { ...nats, tls: clientTls('nats.tls', natsTls) },
    redis,
    api: c.api && { ...c.api, tls: apiTls },
    edges: c.edges.map(({ caFile, defaultCertificate, ...e }, i) => ({
      ...e, ca: read(`edges[${i}].caFile`, caFile),
      ...(defaultCertificate ? { defaultCertificate: readDefaultCertificate(`edges[${i}].defaultCertificate`, defaultCertificate, read, problems) } : {}),
    })),
    sealingKeys: (c.sealingKeyFiles ?? []).flatMap((f, i) => {
      const pem = read(`sealingKeyFiles[${i}]`, f);
      if (pem === undefined) return [];
      try {
        sealingPrivateKey(pem);
        return [pem];
      } catch (err) {
        problems.push(`sealingKeyFiles[${i}]: ${f}: ${(err as Error).message}`);
        return [];
      }
    }),
  };
}

/** An edge's default certificate (PEM), checked: it must parse, match its key and be valid now. */
function readDefaultCertificate(at: string, files: { certFile: string; keyFile: string }, read: (at: string, file: string) => string | undefined, problems: string[]): { cert: string; key: string } {
  const cert = read(`${at}.certFile`, files.certFile) ?? '';
  const key = read(`${at}.keyFile`, files.keyFile) ?? '';
  if (cert && key) {
    const checked = checkCertificate(cert, key);
    if (!checked.ok) problems.push(`${at}: ${checked.problem}`);
  }
  return { cert, key };
}

/** The schema's complaints, each with its field (`edges[0].url`); an unknown field is said once, by name. */
function schemaProblems(raw: unknown): string[] {
  const out = new Set<string>();
  for (const e of check.Errors(raw)) {
    if (e.message === 'must not have additional properties') continue;
    const field = e.instancePath.replace(/^\//, '').replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.') || '(top)';
    out.add(`${field}: ${e.message === 'schema is false' ? 'unknown field' : e.message}`);
    if (out.size === 20) break;
  }
  return [...out];
}

/** Reads and checks the hub configuration file; every problem is reported with its field. */
export function loadHubConfig(path: string): HubConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read hub configuration ${path}: ${(err as Error).message}`, { cause: err });
  }
  const fail = (problems: string[]): Error => new Error(`invalid hub configuration ${path}:\n  ${problems.join('\n  ')}`);
  if (!check.Check(raw)) throw fail(schemaProblems(raw));
  const problems = semanticProblems(raw);
  const config = readFiles(raw, problems);
  if (problems.length > 0) throw fail(problems);
  return config;
}
