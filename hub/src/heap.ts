import { setFlagsFromString } from 'node:v8';

/** How far the heap may grow past what the last full collection kept, in percent. */
export const HEAP_GROWTH_PERCENT = 50;

/**
 * Keeps the hub's memory near what it holds. On a machine with much memory V8 lets the heap grow to
 * up to four times what its last full collection kept before collecting again; the hub allocates
 * much short-lived garbage when ten thousand routes arrive at once (decoded records, plans, request
 * bodies), so its resident memory would reach two to three times its live data. Growing by at most
 * half makes full collections more frequent (they are mostly concurrent) and bounds the peak, with
 * no hard limit to run out of. V8 reads this setting at every collection, so setting it at start
 * works; `node --heap-growing-percent=N` on the command line takes precedence.
 */
export function limitHeapGrowth(percent = HEAP_GROWTH_PERCENT): void {
  if (process.execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
