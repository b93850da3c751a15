#!/usr/bin/env node
// Runs every *.test.ts under the packages with node:test through tsx. Node 20's --test does not
// discover .ts files by itself, so the files are listed here explicitly.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['schemas', 'dataplane', 'spoke', 'hub', 'tests'];
const filter = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'gen') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = roots.flatMap((r) => walk(join(root, r), []));
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)));
files.sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// The programs the tests start (spoke, hub, nats-auth…) run the compiled output: bring it up to date
// first (tsc -b is incremental: only what changed is compiled).
const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit', cwd: root });
if (built.status !== 0) {
  console.error('npm run build failed');
  process.exit(built.status ?? 1);
}
console.log(`running ${files.length} test files:\n  ${files.map((f) => relative(root, f)).join('\n  ')}`);
const res = spawnSync(process.execPath, ['--conditions=ingressfed-source', '--import', 'tsx', '--test', '--test-timeout=300000', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(res.status ?? 1);
