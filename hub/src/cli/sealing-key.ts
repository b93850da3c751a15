// ingressfed-sealing-key: makes the hub's sealing key pair. Spokes seal the private keys of TLS
// Secrets to the public key; only the hub, holding the private key, opens them.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDnsLabel, newSealingKeyPair, sealKeyId, sealingPublicKey } from '@ingressfed/schemas';
import { parseCommandLine, usageError } from '@ingressfed/schemas/cli';

const USAGE = `usage: ingressfed-sealing-key --out DIR [--name NAME]

Writes DIR/NAME.key (the hub's X25519 private key, PEM, mode 0600) and DIR/NAME.pub (its public
key). Give the hub the private key (hub.json: "sealingKeyFiles": ["DIR/NAME.key"]) and every spoke
the public key (--hub-sealing-key DIR/NAME.pub). An existing pair is never overwritten.

Rotation: make a pair under a new name, list the new private key first and the old one after it in
sealingKeyFiles, restart the hubs, then give spokes the new public key; once every spoke has
republished its Secrets (a spoke seals anew when it starts), drop the old key from the hub.

  --out DIR     where to write the pair (created if missing)
  --name NAME   file name stem (default hub-sealing)
`;

const fail = (msg: string): never => usageError('ingressfed-sealing-key', USAGE, msg);
const values = parseCommandLine('ingressfed-sealing-key', USAGE, { out: { type: 'string' }, name: { type: 'string', default: 'hub-sealing' } });
if (!values.out) fail('--out is required');
const name = values.name as string;
if (!isDnsLabel(name)) fail('--name must be lowercase letters, digits and -');
const out = values.out as string;
const keyFile = join(out, `${name}.key`);
const pubFile = join(out, `${name}.pub`);
for (const f of [keyFile, pubFile]) if (existsSync(f)) fail(`${f} exists: a sealing key is never overwritten (choose another --name to rotate)`);
const pair = newSealingKeyPair();
mkdirSync(out, { recursive: true, mode: 0o700 });
writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600 });
chmodSync(keyFile, 0o600);
writeFileSync(pubFile, pair.publicKeyPem, { mode: 0o644 });
process.stdout.write(`wrote ${keyFile} (private, for the hub) and ${pubFile} (public, for the spokes); key id ${sealKeyId(sealingPublicKey(pair.publicKeyPem))}\n`);
