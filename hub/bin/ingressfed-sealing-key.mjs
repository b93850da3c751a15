#!/usr/bin/env node
// ingressfed-sealing-key: runs the compiled program, which `npm run build` makes.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/sealing-key.js', import.meta.url);
if (!existsSync(main)) {
  console.error(`ingressfed-sealing-key: ${main.pathname} is missing: run "npm run build" first`);
  process.exit(1);
}
await import(main.href);
