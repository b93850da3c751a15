import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

// Command-line plumbing shared by every ingressfed program: options with a usage text, and a
// bounded, once-only shutdown on SIGINT/SIGTERM.

/** Parses the options, prints usage and exits 2 on a bad command line, and 0 after --help. */
export function parseCommandLine<const O extends NonNullable<ParseArgsConfig['options']>>(program: string, usage: string, options: O) {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', default: false } }, strict: true });
    if ((values as { help?: boolean }).help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    return values;
  } catch (err) {
    return usageError(program, usage, (err as Error).message);
  }
}

/** A secret read from a file (its first line, without the line end): secrets never go on a command line. */
export function readSecret(path: string): string {
  return (readFileSync(path, 'utf8').split(/\r?\n/)[0] ?? '').trim();
}

/** Reports a command-line problem with the usage text and exits 2. */
export function usageError(program: string, usage: string, message: string): never {
  process.stderr.write(`${program}: ${message}\n\n${usage}`);
  process.exit(2);
}

/** Runs `stop` once on the first SIGINT or SIGTERM, then exits 0 (1 if stopping failed). */
export function stopOnSignals(stop: () => Promise<void>, onSignal?: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      onSignal?.(sig);
      stop().then(() => process.exit(0), () => process.exit(1));
    });
  }
}
