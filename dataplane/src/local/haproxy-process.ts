import { spawn, type ChildProcess } from 'node:child_process';
import { showProc, type ProcState } from './master-cli.js';
import { socketCommand } from './unix-socket.js';

export interface HaproxyProcessOptions {
  bin: string;
  configFile: string;
  masterSocket: string;
  /** Called with every line HAProxy writes to stdout/stderr. */
  onOutput?: (line: string) => void;
  /**
   * Start HAProxy again, from the configuration file, when it exits without stop() asking it to, as
   * systemd's `Restart=always` does for a packaged HAProxy. A crash ends all of it: the master exits
   * when its worker dies (`exit-on-failure`, HAProxy's default), and a worker when its master does.
   */
  restart?: boolean;
  /** Told when HAProxy exits unasked and when it runs again. */
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
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
  /** stop() was called: an exit is expected, and nothing is started again. */
  private stopping = false;
  /** HAProxy exited unasked and is being started again (see HaproxyProcessOptions.restart). */
  private restarting: Promise<void> | undefined;
  /** Ends a restart's wait between attempts (stop() calls it). */
  private wake: (() => void) | undefined;
  /** How many times HAProxy was started again after exiting unasked. */
  restarts = 0;

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
    this.stopping = false;
    await this.spawnAndWait(timeoutMs);
  }

  /** Starts HAProxy and waits for its master to report a worker. */
  private async spawnAndWait(timeoutMs: number): Promise<void> {
    if (this.stopping) throw new Error('haproxy is being stopped');
    const mark = this.log.mark;
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
    this.exited = false;
    let up = false;
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.exited = true;
      if (up && !this.stopping && this.opts.restart) this.restarting ??= this.restartAfterExit(code, signal, mark);
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited) throw new Error(`haproxy exited during start: ${this.log.since(mark)}`);
      try {
        const st = await showProc(this.opts.masterSocket, 1000);
        if (st.workers.length > 0 && !this.exited) {
          up = true;
          return;
        }
      } catch {
        // the master socket is not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`haproxy did not start within ${timeoutMs} ms: ${this.log.since(mark)}`);
      }
      await sleep(25);
    }
  }

  /**
   * Starts HAProxy again after it exited unasked: from the configuration file (the last one
   * committed), after 100 ms, doubling to 5 s between attempts that fail, until it runs or stop().
   */
  private async restartAfterExit(code: number | null, signal: NodeJS.Signals | null, mark: number): Promise<void> {
    const downAt = Date.now();
    this.opts.log?.('error', 'haproxy exited unasked; starting it again from its configuration file', { code, signal, output: condense(this.log.since(mark)) });
    let wait = 100;
    try {
      while (!this.stopping) {
        await new Promise<void>((r) => {
          const timer = setTimeout(r, wait);
          this.wake = () => {
            clearTimeout(timer);
            r();
          };
        });
        this.wake = undefined;
        if (this.stopping) return;
        try {
          await this.spawnAndWait(10_000);
          this.restarts++;
          this.opts.log?.('info', 'haproxy runs again', { pid: this.child?.pid, downMs: Date.now() - downAt, restarts: this.restarts });
          return;
        } catch (err) {
          if (this.stopping) return;
          this.opts.log?.('error', 'haproxy did not start again; retrying', { error: (err as Error).message, retryInMs: Math.min(wait * 2, 5000) });
          wait = Math.min(wait * 2, 5000);
        }
      }
    } finally {
      this.restarting = undefined;
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
    // A reload asked while HAProxy is being started again waits for it.
    const run = this.reloadChain.then(() => this.restarting).then(() => this.reloadOnce(timeoutMs));
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
      if (this.exited && this.restarting) {
        // Started again from the configuration file: it runs what the reload was to load.
        await this.restarting;
        if (this.running) return { ok: true, output: 'haproxy exited during the reload and was started again from its configuration file' };
      }
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
    this.stopping = true;
    this.wake?.();
    await this.stopChild(timeoutMs);
    // A restart in progress sees `stopping` and gives up (its HAProxy, if any, was just stopped).
    await this.restarting;
    await this.stopChild(timeoutMs);
  }

  private async stopChild(timeoutMs: number): Promise<void> {
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
