// ingressfed-nats-auth: the NATS identities of a federation, one per cluster, and the nats-server
// authorization block that confines each spoke to its own keys.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDnsLabel } from '@ingressfed/schemas';
import { parseCommandLine, usageError } from '@ingressfed/schemas/cli';
import { natsAuthConfig, natsAuthFor, type NatsAuth } from '@ingressfed/schemas/nats';

const USAGE = `usage: ingressfed-nats-auth --clusters NAME[,NAME...] --out DIR

Writes DIR/credentials.json (the hub's and each cluster's NATS user and password) and
DIR/nats-auth.conf (nats-server's authorization block: no anonymous connections; each spoke may
write and read only its own cluster's keys; the hub may do everything). Run it again with another
list to add or remove clusters: the identities already in DIR/credentials.json are kept.

  --clusters LIST   the clusters of the federation, comma-separated DNS labels
  --out DIR         where to write both files (created if missing; files mode 0600)
`;

const fail = (msg: string): never => usageError('ingressfed-nats-auth', USAGE, msg);
const values = parseCommandLine('ingressfed-nats-auth', USAGE, { clusters: { type: 'string' }, out: { type: 'string' } });
const clusters = (values.clusters ?? '').split(',').map((c) => c.trim()).filter(Boolean);
if (clusters.length === 0) fail('--clusters is required');
const bad = clusters.find((c) => !isDnsLabel(c));
if (bad !== undefined) fail(`cluster name '${bad.slice(0, 80)}' is not a DNS label (lowercase letters, digits and -)`);
if (!values.out) fail('--out is required');
const out = values.out as string;

const credentialsFile = join(out, 'credentials.json');
const confFile = join(out, 'nats-auth.conf');
let previous: NatsAuth | undefined;
if (existsSync(credentialsFile)) {
  try {
    previous = JSON.parse(readFileSync(credentialsFile, 'utf8')) as NatsAuth;
  } catch (err) {
    process.stderr.write(`ingressfed-nats-auth: ${credentialsFile} is not valid JSON (${(err as Error).message}); move it away to start afresh\n`);
    process.exit(1);
  }
}
const auth = natsAuthFor(clusters, previous);
mkdirSync(out, { recursive: true, mode: 0o700 });
for (const [file, text] of [[credentialsFile, `${JSON.stringify(auth, null, 2)}\n`], [confFile, natsAuthConfig(auth)]] as const) {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}
const kept = previous ? clusters.filter((c) => previous?.clusters[c]).length : 0;
process.stdout.write(`wrote ${confFile} and ${credentialsFile}: ${clusters.length} clusters (${kept} kept, ${clusters.length - kept} new)
include ${confFile} in nats-server's configuration (include "nats-auth.conf") and reload it;
give the hub its identity (hub.json: nats.user, nats.password) and each spoke its own
(INGRESSFED_NATS_USER and INGRESSFED_NATS_PASSWORD, or --nats-password-file).
`);
