#!/usr/bin/env node
// ingressfed-playground [start] [options] | fail | recover | endpoints — the playground and its control.
import { register } from 'tsx/esm/api';

register();
const command = process.argv[2];
if (command === 'fail' || command === 'recover' || command === 'endpoints') {
  await import('../src/playground/control.ts');
} else {
  if (command === 'start') process.argv.splice(2, 1);
  await import('../src/playground/main.ts');
}
