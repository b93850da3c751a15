import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

// Command-line plumbing shared by every ingressfed program: options with a usage text, and a
// bounded, once-only shutdown on SIGINT/SIGTERM.

type Options = NonNullable<ParseArgsConfig['options']>;
/** What parseArgs gives for these options (named, so that compiled declarations can say it). */
export type CommandLineValues<O extends Options> = ReturnType<typeof parseArgs<{ options: O; strict: true }>>['values'];

/** The environment variable that stands for an option: `--nats-user` is `INGRESSFED_NATS_USER`. */
export const envNameOf = (option: string): string => `INGRESSFED_${option.toUpperCase().replace(/-/g, '_')}`;

/**
 * Parses the options, prints usage and exits 2 on a bad command line, and 0 after --help. With
 * `fromEnv`, an option not on the command line is taken from its environment variable (envNameOf;
 * a boolean from `true`/`false`), before its default: a container is configured by its environment.
 */
export function parseCommandLine<const O extends Options>(program: string, usage: string, options: O, opts: { fromEnv?: boolean } = {}): CommandLineValues<O> {
  try {
    const bare = Object.fromEntries(Object.entries(options).map(([k, { default: _d, ...o }]) => [k, o])) as Options;
    const { values } = parseArgs({ options: { ...bare, help: { type: 'boolean', default: false } }, strict: true });
    if ((values as { help?: boolean }).help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    const out = values as Record<string, unknown>;
    for (const [name, o] of Object.entries(options)) {
      if (out[name] !== undefined) continue;
      const env = opts.fromEnv ? process.env[envNameOf(name)] : undefined;
      if (env !== undefined && env !== '') out[name] = o.type === 'boolean' ? envBoolean(name, env) : env;
      else if (o.default !== undefined) out[name] = o.default;
    }
    return out as CommandLineValues<O>;
  } catch (err) {
    return usageError(program, usage, (err as Error).message);
  }
}

function envBoolean(option: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`${envNameOf(option)}=${value}: expected true or false`);
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
