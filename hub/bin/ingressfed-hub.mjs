#!/usr/bin/env node
// ingressfed-hub: runs the compiled program, which `npm run build` makes.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error(`ingressfed-hub: ${main.pathname} is missing: run "npm run build" first`);
  process.exit(1);
}
await import(main.href);
