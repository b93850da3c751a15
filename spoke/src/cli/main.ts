// ingressfed-spoke: publishes one cluster's Ingress and endpoint state to NATS.
import { readFileSync } from 'node:fs';
import { isDnsLabel, isDnsSubdomain, isZoneName, sealingPublicKey } from '@ingressfed/schemas';
import { parseCommandLine, readSecret, stopOnSignals, usageError } from '@ingressfed/schemas/cli';
import { pino } from 'pino';
import { SpokeMetrics } from '../metrics.js';
import { startProbeServer, type ProbeServer } from '../probes.js';
import { Spoke } from '../spoke.js';

const USAGE = `usage: ingressfed-spoke --cluster NAME --zone ZONE --nats URL [options]

Every option can also be given in the environment as INGRESSFED_ and its name in capitals with
underscores (--nats-user: INGRESSFED_NATS_USER; a switch: true or false); the command line wins.
Secrets and certificates are read from files (a mounted Secret or ConfigMap), never from the
command line.

  --cluster NAME            this cluster's name (DNS label)
  --zone ZONE               the cluster's zone
  --region REGION           optional region
  --nats URL                NATS server (also INGRESSFED_NATS_URL)
  --nats-user USER          NATS user
  --nats-password-file F    file holding the NATS password (or INGRESSFED_NATS_PASSWORD itself;
                            never on the command line, which every user can read in ps)
  --nats-ca FILE            CA of the NATS server's certificate (TLS; a tls:// url without it
                            uses the system's trust store)
  --nats-cert FILE          this spoke's certificate and key, when NATS asks for one (mutual TLS)
  --nats-key FILE
  --kubeconfig PATH         kubeconfig of the cluster (also KUBECONFIG); without one, the in-cluster
                            configuration: the Pod's ServiceAccount token and CA
  --endpoint-mode MODE      pod | nodeport | loadbalancer (default pod); a Service can override it
                            with the annotation ingressfed.io/endpoint-mode
  --watch-nodes             watch Nodes in pod mode too (for Services annotated nodeport)
  --ingress-class NAME      serve only this IngressClass (default: every class whose controller
                            is ingressfed.io/hub)
  --listen HOST:PORT        serve /healthz, /readyz and /metrics there (default: not served;
                            the manifests in deploy/spoke use 0.0.0.0:9090)
  --heartbeat-interval MS   heartbeat period (default 2000)
  --empty-list-grace MS     how long a list that came back empty although objects were known
                            must stay so before it is published (default 30000)
  --watch-stall MS          a watch silent this long (no event, no bookmark) is checked against
                            the API server and relisted if it missed a change (default 90000;
                            API servers send idle watches a bookmark about once a minute)
  --kube-request-timeout MS how long a list, or the answer to a watch request, may take before
                            it counts as failed and is retried (default 60000)
  --hub-sealing-key FILE    the hub's sealing public key (PEM; also INGRESSFED_HUB_SEALING_KEY_FILE;
                            made by ingressfed-sealing-key): with it the spoke publishes the TLS
                            Secrets its Ingresses name, their keys sealed to the hub; without it,
                            or with an empty file, it reads no Secret
`;

function fail(msg: string): never {
  return usageError('ingressfed-spoke', USAGE, msg);
}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
  const port = Number(m?.[3]);
  if (!m || port > 65535) return fail(`--listen ${v} is not HOST:PORT`);
  return { host: m[1] ?? (m[2] as string), port };
}

const values = parseCommandLine('ingressfed-spoke', USAGE, {
  cluster: { type: 'string' }, zone: { type: 'string' }, region: { type: 'string' }, nats: { type: 'string' },
      'nats-user': { type: 'string' }, 'nats-password-file': { type: 'string' }, kubeconfig: { type: 'string' },
      'nats-ca': { type: 'string' }, 'nats-cert': { type: 'string' }, 'nats-key': { type: 'string' },
      'endpoint-mode': { type: 'string', default: 'pod' }, 'ingress-class': { type: 'string' }, 'watch-nodes': { type: 'boolean', default: false }, 'heartbeat-interval': { type: 'string', default: '2000' }, 'empty-list-grace': { type: 'string', default: '30000' },
      'watch-stall': { type: 'string', default: '90000' }, 'kube-request-timeout': { type: 'string', default: '60000' },
      'hub-sealing-key': { type: 'string' }, listen: { type: 'string' },
}, { fromEnv: true });
const cluster = values.cluster;
const zone = values.zone;
const nats = values.nats ?? process.env.INGRESSFED_NATS_URL;
const kubeconfig = values.kubeconfig ?? (process.env.KUBECONFIG || undefined);
if (!cluster || !isDnsLabel(cluster)) fail('--cluster must be a DNS label (lowercase letters, digits and -)');
if (!zone || !isZoneName(zone)) fail('--zone is required (lowercase letters, digits, - and .)');
if (values.region !== undefined && !isZoneName(values.region)) fail('--region must be lowercase letters, digits, - and .');
if (!nats) fail('--nats is required');
if (kubeconfig === undefined && !process.env.KUBERNETES_SERVICE_HOST) fail('--kubeconfig is required outside a Kubernetes Pod (in a Pod, the in-cluster configuration is used)');
const listen = values.listen === undefined ? undefined : parseListen(values.listen);
const mode = values['endpoint-mode'];
if (mode !== 'pod' && mode !== 'nodeport' && mode !== 'loadbalancer') fail(`--endpoint-mode ${mode} is not pod, nodeport or loadbalancer`);
const ingressClass = values['ingress-class'];
if (ingressClass !== undefined && !isDnsSubdomain(ingressClass)) fail('--ingress-class must be a valid IngressClass name');
const heartbeat = Number(values['heartbeat-interval']);
if (!Number.isInteger(heartbeat) || heartbeat < 100) fail('--heartbeat-interval must be at least 100 ms');

const emptyGrace = Number(values['empty-list-grace']);
if (!Number.isInteger(emptyGrace) || emptyGrace < 0) fail('--empty-list-grace must be a number of milliseconds');

const watchStall = Number(values['watch-stall']);
if (!Number.isInteger(watchStall) || watchStall < 1000) fail('--watch-stall must be at least 1000 ms');

const kubeRequestTimeout = Number(values['kube-request-timeout']);
if (!Number.isInteger(kubeRequestTimeout) || kubeRequestTimeout < 1000) fail('--kube-request-timeout must be at least 1000 ms');

const passwordFile = values['nats-password-file'];
let natsPassword = process.env.INGRESSFED_NATS_PASSWORD;
if (passwordFile !== undefined) {
  try {
    natsPassword = readSecret(passwordFile);
  } catch (err) {
    fail(`--nats-password-file: ${(err as Error).message}`);
  }
}

if ((values['nats-cert'] === undefined) !== (values['nats-key'] === undefined)) fail('--nats-cert and --nats-key go together');
const readPem = (flag: 'nats-ca' | 'nats-cert' | 'nats-key'): string | undefined => {
  const file = values[flag];
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return fail(`--${flag}: cannot read ${file}: ${(err as Error).message}`);
  }
};
const natsTls = { ca: readPem('nats-ca'), cert: readPem('nats-cert'), key: readPem('nats-key') };
const sealingKeyFile = values['hub-sealing-key'] ?? process.env.INGRESSFED_HUB_SEALING_KEY_FILE;
let hubSealingKey: string | undefined;
if (sealingKeyFile !== undefined) {
  try {
    hubSealingKey = readFileSync(sealingKeyFile, 'utf8');
    // An empty file (the manifests' placeholder) means no key, as no option does.
    if (hubSealingKey.trim() === '') hubSealingKey = undefined;
    else sealingPublicKey(hubSealingKey);
  } catch (err) {
    fail(`--hub-sealing-key ${sealingKeyFile}: ${(err as Error).message}`);
  }
}

const logger = pino({ name: 'ingressfed-spoke', base: { cluster } });
const metrics = new SpokeMetrics();
const spoke = new Spoke({
  cluster, zone, region: values.region, endpointMode: mode, ingressClass, watchNodes: values['watch-nodes'], kubeconfigPath: kubeconfig, natsUrl: nats,
  natsUser: values['nats-user'],
  natsPassword,
  natsTls: natsTls.ca !== undefined || natsTls.cert !== undefined ? natsTls : undefined,
  heartbeatIntervalMs: heartbeat,
  emptyListGraceMs: emptyGrace,
  watchStallMs: watchStall,
  kubeRequestTimeoutMs: kubeRequestTimeout,
  hubSealingKey,
  metrics,
  log: (level, msg, fields) => logger[level](fields ?? {}, msg),
});
metrics.observe(spoke);

// The probes answer from the start: /readyz says what the spoke still waits for.
let probes: ProbeServer | undefined;
if (listen) {
  try {
    probes = await startProbeServer(listen, spoke, metrics);
    logger.info({ address: probes.address }, 'serving /healthz, /readyz and /metrics');
  } catch (err) {
    logger.error({ error: (err as Error).message, listen: values.listen }, 'cannot listen');
    process.exit(1);
  }
}

// Graceful: informers and the publisher stop, pending status and Event writes finish, the NATS
// connection drains (what was published stays published), then the probe server closes.
stopOnSignals(async () => {
  await spoke.stop();
  await probes?.close();
  logger.info('stopped');
}, (signal) => logger.info({ signal }, 'stopping'));

try {
  await spoke.start();
  logger.info({ epoch: spoke.epoch, kubeconfig: kubeconfig ?? 'in-cluster' }, 'started');
} catch (err) {
  logger.error({ error: (err as Error).message }, 'cannot start');
  process.exit(1);
}
