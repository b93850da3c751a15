// ingressfed-playground fail|recover|endpoints: controls a running playground.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCommandLine, usageError } from '@ingressfed/schemas/cli';

const USAGE = `usage: ingressfed-playground fail (--zone ZONE | --cluster NAME)... [--mode refuse|hang] [--out DIR]
       ingressfed-playground recover [--out DIR]
       ingressfed-playground endpoints [--out DIR]

  fail        make the matching endpoints refuse connections (default) or hang
  recover     bring every failed endpoint back
  endpoints   list the endpoints and their state
  --out DIR   the playground's folder (default .playground)
`;

const [command, ...rest] = process.argv.slice(2);
process.argv.splice(2, process.argv.length, ...rest);
const values = parseCommandLine('ingressfed-playground', USAGE, {
  zone: { type: 'string' }, cluster: { type: 'string' }, mode: { type: 'string' }, out: { type: 'string', default: '.playground' },
});
if (command !== 'fail' && command !== 'recover' && command !== 'endpoints') usageError('ingressfed-playground', USAGE, `unknown command ${command ?? '(none)'}`);

let controlUrl: string;
try {
  controlUrl = (JSON.parse(readFileSync(join(resolve(values.out), 'playground.json'), 'utf8')) as { controlUrl: string }).controlUrl;
} catch (err) {
  usageError('ingressfed-playground', USAGE, `no running playground in ${resolve(values.out)}: ${(err as Error).message}`);
}

const res = command === 'endpoints'
  ? await fetch(`${controlUrl}/endpoints`)
  : await fetch(`${controlUrl}/${command}`, { method: 'POST', body: JSON.stringify({ zone: values.zone, cluster: values.cluster, mode: values.mode }) });
const body = (await res.json()) as unknown;
if (!res.ok) {
  process.stderr.write(`ingressfed-playground: ${(body as { error?: string }).error ?? res.statusText}\n`);
  process.exit(1);
}
if (command === 'fail') {
  const b = body as { failed: string[]; mode: string };
  process.stdout.write(`${b.mode === 'hang' ? 'hanging' : 'refusing connections'}: ${b.failed.join(', ')}\n`);
} else {
  for (const e of body as Array<{ endpoint: string; state: string; meta: Record<string, unknown> }>) {
    process.stdout.write(`${e.endpoint.padEnd(22)} ${String(e.meta.cluster).padEnd(10)} ${String(e.meta.zone).padEnd(10)} ${String(e.meta.service).padEnd(12)} ${e.state}\n`);
  }
}
