#!/usr/bin/env node
// Copies what tsc does not emit into dist/gen: the Data Plane API types generated from the spec and
// the local server's list of served operations. Part of this package's build (and npm run build).
import { cpSync, mkdirSync, readdirSync } from 'node:fs';

const src = new URL('../src/gen/', import.meta.url);
const dist = new URL('../dist/gen/', import.meta.url);
mkdirSync(dist, { recursive: true });
for (const name of readdirSync(src)) cpSync(new URL(name, src), new URL(name, dist));
