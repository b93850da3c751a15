// ingressfed-hub: merges every cluster's state and programs the HAProxy edges.
import { parseCommandLine, stopOnSignals, usageError } from '@ingressfed/schemas/cli';
import { pino } from 'pino';
import { buildHubApi } from '../api/server.js';
import { loadHubConfig, type HubConfig } from '../config.js';
import { connectHub } from '../connect.js';
import { limitHeapGrowth } from '../heap.js';
import type { Hub } from '../hub.js';

const USAGE = `usage: ingressfed-hub --config FILE

  --config FILE   JSON (keep it mode 0600: it holds secrets); every field in docs/operators.md:
                  {"nats": {"url", "user"?, "password"?, "tls"?: {"caFile"?, "certFile"?, "keyFile"?}},
                   "redis"?: {"url", "tls"?: {...}},
                   "edges": [{"name", "url", "username", "password", "caFile"?, "zone", "bindAddress", "bindPort", "publicAddress"}],
                   "api"?: {"host", "port", "tokens": [{"name", "token", "role": "read"|"admin"}], "tls"?: {"certFile", "keyFile"}},
                   "clusters"?, "allowedEndpointCidrs"?, "hostPolicy"?: [{"hosts", "clusters", "namespaces"?}],
                   "sealingKeyFiles"?: ["hub-sealing.key", ...] (made by ingressfed-sealing-key),
                   "leaseTtlMs"?: 5000, "staleAfterMs"?: 15000, "expireAfterMs"?: (off)}
`;

const values = parseCommandLine('ingressfed-hub', USAGE, { config: { type: 'string' } });
if (!values.config) usageError('ingressfed-hub', USAGE, '--config is required');

limitHeapGrowth();
const logger = pino({ name: 'ingressfed-hub' });
let hub: Hub;
let cfg: HubConfig;
try {
  cfg = loadHubConfig(values.config);
  hub = await connectHub({
    natsUrl: cfg.nats.url, natsUser: cfg.nats.user, natsPassword: cfg.nats.password, natsTls: cfg.nats.tls, redisUrl: cfg.redis?.url, redisTls: cfg.redis?.tls, leaseTtlMs: cfg.leaseTtlMs, edges: cfg.edges,
    resyncIntervalMs: cfg.resyncIntervalMs, fullRecomputeIntervalMs: cfg.fullRecomputeIntervalMs, staleAfterMs: cfg.staleAfterMs, expireAfterMs: cfg.expireAfterMs,
    clusters: cfg.clusters, allowedEndpointCidrs: cfg.allowedEndpointCidrs, hostPolicy: cfg.hostPolicy, sealingKeys: cfg.sealingKeys, log: (level, msg, fields) => logger[level](fields ?? {}, msg),
  });
} catch (err) {
  process.stderr.write(`ingressfed-hub: ${(err as Error).message}\n`);
  process.exit(2);
}

stopOnSignals(() => hub.stop(), (signal) => logger.info({ signal }, 'stopping'));

try {
  // The API's schemas are compiled before the hub starts its work, not in the middle of it.
  const api = await buildHubApi(hub, cfg.api?.tokens ?? [], { https: cfg.api?.tls });
  await api.ready();
  await hub.start();
  const address = await api.listen({ host: cfg.api?.host ?? '127.0.0.1', port: cfg.api?.port ?? 9090 });
  logger.info({ api: address }, 'started');
} catch (err) {
  logger.error({ error: (err as Error).message }, 'cannot start');
  process.exit(1);
}
