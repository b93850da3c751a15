import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';

const live = new Set<ManagedProcess>();

// A test run that dies must not leave servers behind: kill whatever is still alive on exit.
process.on('exit', () => {
  for (const p of live) p.killNow();
});

/**
 * A child process started by the harness: its output kept for diagnostics, its stop bounded in
 * time (SIGTERM, then SIGKILL), and killed at exit if a test forgot it.
 */
export class ManagedProcess {
  readonly child: ChildProcess;
  private readonly out: string[] = [];
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  constructor(readonly name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; logFile?: string } = {}) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    const keep = (d: Buffer): void => {
      if (opts.logFile) appendFileSync(opts.logFile, d);
      for (const line of d.toString().split('\n')) if (line.trim()) this.out.push(line);
      if (this.out.length > 2000) this.out.splice(0, this.out.length - 2000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((r) => this.child.once('exit', (code) => {
      this.exitCode = code;
      live.delete(this);
      r();
    }));
    this.child.once('error', (err) => this.out.push(`spawn error: ${err.message}`));
    live.add(this);
  }

  /** The exit code once it has exited (null when a signal ended it); undefined while it runs. */
  get code(): number | null | undefined {
    return this.running ? undefined : this.exitCode ?? this.child.exitCode;
  }

  get running(): boolean {
    return this.exitCode === undefined && this.child.exitCode === null;
  }

  output(): string {
    return this.out.join('\n');
  }

  /** The first output line matching `re`, waiting for it up to the deadline. */
  async waitForLine(re: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.out.find((l) => re.test(l));
      if (hit) return hit;
      if (!this.running) throw new Error(`${this.name} exited (code ${String(this.exitCode)}) before printing ${re}:\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not print ${re} within ${timeoutMs} ms:\n${this.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(timeoutMs = 5000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}
