import { spawn, type ChildProcess } from 'node:child_process';
import { showProc, type ProcState } from './master-cli.js';
import { socketCommand } from './unix-socket.js';

export interface HaproxyProcessOptions {
  bin: string;
  configFile: string;
  masterSocket: string;
  /** Called with every line HAProxy writes to stdout/stderr. */
  onOutput?: (line: string) => void;
}

export interface CheckResult {
  ok: boolean;
  output: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Keeps the last lines HAProxy printed, numbered, so a reload can report what it caused. */
class OutputLog {
  private lines: Array<{ seq: number; text: string }> = [];
  private seq = 0;

  push(text: string): void {
    this.lines.push({ seq: ++this.seq, text });
    if (this.lines.length > 500) this.lines.splice(0, this.lines.length - 500);
  }

  get mark(): number {
    return this.seq;
  }

  since(mark: number): string {
    return this.lines.filter((l) => l.seq > mark).map((l) => l.text).join('\n');
  }
}

/**
 * A real HAProxy in master-worker mode (`-W -S master.sock`), owned by this process: started, checked,
 * reloaded through the master CLI and stopped. Reload outcomes come from HAProxy's own `show proc`.
 */
export class HaproxyProcess {
  private child: ChildProcess | undefined;
  private readonly log = new OutputLog();
  private exited = false;
  private reloadChain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: HaproxyProcessOptions) {}

  /** Runs `haproxy -c -f file`: a full parse and post-parse check without binding anything. */
  async check(file: string): Promise<CheckResult> {
    return new Promise((resolve) => {
      const p = spawn(this.opts.bin, ['-c', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      p.stdout.on('data', (d: Buffer) => (output += d.toString()));
      p.stderr.on('data', (d: Buffer) => (output += d.toString()));
      p.on('error', (err) => resolve({ ok: false, output: `cannot run ${this.opts.bin}: ${err.message}` }));
      p.on('close', (code) => resolve({ ok: code === 0, output: condense(output) }));
    });
  }

  async start(timeoutMs = 10_000): Promise<void> {
    const child = spawn(this.opts.bin, ['-W', '-S', `${this.opts.masterSocket},mode,600`, '-f', this.opts.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const onData = (d: Buffer): void => {
      for (const line of d.toString().split('\n')) {
        if (line.trim() === '') continue;
        this.log.push(line);
        this.opts.onOutput?.(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', () => (this.exited = true));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw new Error(`haproxy exited during start: ${this.log.since(0)}`);
      try {
        const st = await showProc(this.opts.masterSocket, 1000);
        if (st.workers.length > 0) return;
      } catch {
        // the master socket is not listening yet
      }
      if (Date.now() > deadline) throw new Error(`haproxy did not start within ${timeoutMs} ms: ${this.log.since(0)}`);
      await sleep(25);
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && !this.exited;
  }

  procState(): Promise<ProcState> {
    return showProc(this.opts.masterSocket);
  }

  /**
   * Reloads HAProxy from the configuration file and waits for the master to report the outcome.
   * HAProxy 2.6 answers `reload` asynchronously; the master re-executes itself, so the outcome is read
   * from `show proc`: its reload counter moves, and `[failed: N]` is non-zero when the new
   * configuration could not be loaded (the old workers then keep serving).
   */
  reload(timeoutMs = 15_000): Promise<CheckResult> {
    const run = this.reloadChain.then(() => this.reloadOnce(timeoutMs));
    this.reloadChain = run.catch(() => undefined);
    return run;
  }

  private async reloadOnce(timeoutMs: number): Promise<CheckResult> {
    const before = await this.procState();
    const mark = this.log.mark;
    await socketCommand(this.opts.masterSocket, 'reload').catch(() => '');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await sleep(20);
      if (this.exited) return { ok: false, output: `haproxy exited during reload: ${this.log.since(mark)}` };
      let st: ProcState | undefined;
      try {
        st = await showProc(this.opts.masterSocket, 1000);
      } catch {
        st = undefined; // the master is re-executing
      }
      if (st && st.master.reloads > before.master.reloads) {
        if ((st.master.failed ?? 0) > 0) return { ok: false, output: condense(this.log.since(mark)) || 'HAProxy reported a failed reload' };
        const fresh = st.workers.filter((w) => w.reloads === 0 && !before.workers.some((b) => b.pid === w.pid));
        if (fresh.length > 0) return { ok: true, output: condense(this.log.since(mark)) };
      }
      if (Date.now() > deadline) return { ok: false, output: `HAProxy did not report the reload within ${timeoutMs} ms` };
    }
  }

  async stop(timeoutMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await gone;
    clearTimeout(timer);
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    if (this.child && !this.exited) this.child.kill('SIGKILL');
  }
}

/** Keeps HAProxy's ALERT lines (the reasons) and drops the notices around them. */
export function condense(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const alerts = lines.filter((l) => l.startsWith('[ALERT]'));
  return (alerts.length > 0 ? alerts : lines).join('\n');
}
