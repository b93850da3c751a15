// ingressfed-hub: merges every cluster's state and programs the HAProxy edges.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadHubConfig } from '../config.js';
import { Hub } from '../hub.js';

const USAGE = `usage: ingressfed-hub --config FILE

  --config FILE   JSON: {"nats": {"url", "user"?, "password"?},
                         "edges": [{"name", "url", "username", "password", "zone", "bindAddress", "bindPort", "publicAddress"}]}
`;

let values;
try {
  ({ values } = parseArgs({ options: { config: { type: 'string' }, help: { type: 'boolean', default: false } } }));
} catch (err) {
  process.stderr.write(`ingressfed-hub: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!values.config) {
  process.stderr.write(`ingressfed-hub: --config is required\n\n${USAGE}`);
  process.exit(2);
}

const logger = pino({ name: 'ingressfed-hub' });
let hub: Hub;
try {
  const cfg = loadHubConfig(values.config);
  hub = new Hub({
    natsUrl: cfg.nats.url, natsUser: cfg.nats.user, natsPassword: cfg.nats.password, edges: cfg.edges,
    resyncIntervalMs: cfg.resyncIntervalMs, log: (level, msg, fields) => logger[level](fields ?? {}, msg),
  });
} catch (err) {
  process.stderr.write(`ingressfed-hub: ${(err as Error).message}\n`);
  process.exit(2);
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal: sig }, 'stopping');
    hub.stop().then(() => process.exit(0), () => process.exit(1));
  });
}

try {
  await hub.start();
  logger.info({}, 'started');
} catch (err) {
  logger.error({ error: (err as Error).message }, 'cannot start');
  process.exit(1);
}
