// ingressfed-spoke: publishes one cluster's Ingress and endpoint state to NATS.
import { readFileSync } from 'node:fs';
import { isDnsLabel, isDnsSubdomain, isZoneName, sealingPublicKey } from '@ingressfed/schemas';
import { parseCommandLine, readSecret, stopOnSignals, usageError } from '@ingressfed/schemas/cli';
import { pino } from 'pino';
import { Spoke } from '../spoke.js';

const USAGE = `usage: ingressfed-spoke --cluster NAME --zone ZONE --nats URL --kubeconfig PATH [options]

  --cluster NAME            this cluster's name (DNS label; env INGRESSFED_CLUSTER)
  --zone ZONE               the cluster's zone (env INGRESSFED_ZONE)
  --region REGION           optional region
  --nats URL                NATS server (env INGRESSFED_NATS_URL)
  --nats-user USER          NATS user (env INGRESSFED_NATS_USER)
  --nats-password-file F    file holding the NATS password (or env INGRESSFED_NATS_PASSWORD;
                            never on the command line, which every user can read in ps)
  --nats-ca FILE            CA of the NATS server's certificate (TLS; a tls:// url without it
                            uses the system's trust store)
  --nats-cert FILE          this spoke's certificate and key, when NATS asks for one (mutual TLS)
  --nats-key FILE
  --kubeconfig PATH         kubeconfig of the cluster (env KUBECONFIG)
  --endpoint-mode MODE      pod | nodeport | loadbalancer (default pod); a Service can override it
                            with the annotation ingressfed.io/endpoint-mode
  --watch-nodes             watch Nodes in pod mode too (for Services annotated nodeport)
  --ingress-class NAME      serve only this IngressClass (env INGRESSFED_INGRESS_CLASS;
                            default: every class whose controller is ingressfed.io/hub)
  --heartbeat-interval MS   heartbeat period (default 2000)
  --empty-list-grace MS     how long a list that came back empty although objects were known
                            must stay so before it is published (default 30000)
  --watch-stall MS          a watch silent this long (no event, no bookmark) is checked against
                            the API server and relisted if it missed a change (default 90000;
                            API servers send idle watches a bookmark about once a minute)
  --kube-request-timeout MS how long a list, or the answer to a watch request, may take before
                            it counts as failed and is retried (default 60000)
  --hub-sealing-key FILE    the hub's sealing public key (PEM; env INGRESSFED_HUB_SEALING_KEY_FILE;
                            made by ingressfed-sealing-key): with it the spoke publishes the TLS
                            Secrets its Ingresses name, their keys sealed to the hub; without it
                            it reads no Secret
`;

function fail(msg: string): never {
  return usageError('ingressfed-spoke', USAGE, msg);
}

const values = parseCommandLine('ingressfed-spoke', USAGE, {
  cluster: { type: 'string' }, zone: { type: 'string' }, region: { type: 'string' }, nats: { type: 'string' },
      'nats-user': { type: 'string' }, 'nats-password-file': { type: 'string' }, kubeconfig: { type: 'string' },
      'nats-ca': { type: 'string' }, 'nats-cert': { type: 'string' }, 'nats-key': { type: 'string' },
      'endpoint-mode': { type: 'string', default: 'pod' }, 'ingress-class': { type: 'string' }, 'watch-nodes': { type: 'boolean', default: false }, 'heartbeat-interval': { type: 'string', default: '2000' }, 'empty-list-grace': { type: 'string', default: '30000' },
      'watch-stall': { type: 'string', default: '90000' }, 'kube-request-timeout': { type: 'string', default: '60000' },
      'hub-sealing-key': { type: 'string' },
});
const cluster = values.cluster ?? process.env.INGRESSFED_CLUSTER;
const zone = values.zone ?? process.env.INGRESSFED_ZONE;
const nats = values.nats ?? process.env.INGRESSFED_NATS_URL;
const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG;
if (!cluster || !isDnsLabel(cluster)) fail('--cluster must be a DNS label (lowercase letters, digits and -)');
if (!zone || !isZoneName(zone)) fail('--zone is required (lowercase letters, digits, - and .)');
if (values.region !== undefined && !isZoneName(values.region)) fail('--region must be lowercase letters, digits, - and .');
if (!nats) fail('--nats is required');
if (!kubeconfig) fail('--kubeconfig is required');
const mode = values['endpoint-mode'];
if (mode !== 'pod' && mode !== 'nodeport' && mode !== 'loadbalancer') fail(`--endpoint-mode ${mode} is not pod, nodeport or loadbalancer`);
const ingressClass = values['ingress-class'] ?? process.env.INGRESSFED_INGRESS_CLASS;
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
    sealingPublicKey(hubSealingKey);
  } catch (err) {
    fail(`--hub-sealing-key ${sealingKeyFile}: ${(err as Error).message}`);
  }
}

const logger = pino({ name: 'ingressfed-spoke', base: { cluster } });
const spoke = new Spoke({
  cluster, zone, region: values.region, endpointMode: mode, ingressClass, watchNodes: values['watch-nodes'], kubeconfigPath: kubeconfig, natsUrl: nats,
  natsUser: values['nats-user'] ?? process.env.INGRESSFED_NATS_USER,
  natsPassword,
  natsTls: natsTls.ca !== undefined || natsTls.cert !== undefined ? natsTls : undefined,
  heartbeatIntervalMs: heartbeat,
  emptyListGraceMs: emptyGrace,
  watchStallMs: watchStall,
  kubeRequestTimeoutMs: kubeRequestTimeout,
  hubSealingKey,
  log: (level, msg, fields) => logger[level](fields ?? {}, msg),
});

stopOnSignals(() => spoke.stop(), (signal) => logger.info({ signal }, 'stopping'));

try {
  await spoke.start();
  logger.info({ epoch: spoke.epoch }, 'started');
} catch (err) {
  logger.error({ error: (err as Error).message }, 'cannot start');
  process.exit(1);
}
