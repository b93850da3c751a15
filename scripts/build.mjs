#!/usr/bin/env node
// npm run build: compiles every package to its dist/ (tsc -b, incremental), after copying the files
// tsc does not emit: the Data Plane API types generated from the spec and the local server's list
// of served operations.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname;
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const genSrc = join(root, 'dataplane/src/gen');
const genDist = join(root, 'dataplane/dist/gen');
mkdirSync(genDist, { recursive: true });
for (const name of readdirSync(genSrc)) cpSync(join(genSrc, name), join(genDist, name));

const res = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
if (res.status !== 0) process.exit(res.status ?? 1);
