#!/usr/bin/env node
// npm run build: compiles every package to its dist/ (tsc -b, incremental), after copying the files
// tsc does not emit (dataplane/scripts/copy-gen.mjs).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname;
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

await import('../dataplane/scripts/copy-gen.mjs');

const res = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
if (res.status !== 0) process.exit(res.status ?? 1);
