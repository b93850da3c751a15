import { statsCommand } from './runtime.js';

// Certificates in the running HAProxy, through its stats socket: `set ssl cert` + `commit ssl cert`
// swap a loaded one in place for every bind using it, with no reload; `new ssl cert` and
// `del ssl cert` add and drop unused ones. HAProxy 2.6 answers in text, checked line by line here.

/** A runtime certificate command HAProxy refused; the caller falls back to a reload. */
export class RuntimeCertError extends Error {
  constructor(readonly command: string, readonly answer: string, options?: ErrorOptions) {
    super(`runtime command '${command}' failed: ${answer.trim().split('\n').join(' ') || 'no answer'}`, options);
    this.name = 'RuntimeCertError';
  }
}

export class RuntimeCerts {
  constructor(private readonly statsSocket: string) {}

  /** Runs one command and checks its answer; anything else is a RuntimeCertError. */
  private async run(cmd: string, ok: RegExp, payload?: readonly string[]): Promise<void> {
    let answer: string;
    try {
      answer = await statsCommand(this.statsSocket, cmd, payload);
    } catch (err) {
      throw new RuntimeCertError(cmd, (err as Error).message, { cause: err });
    }
    if (!ok.test(answer)) throw new RuntimeCertError(cmd, answer);
  }

  /** Replaces a loaded certificate with `lines` (PEM, no empty line), aborting the transaction on failure. */
  async replace(file: string, lines: readonly string[]): Promise<void> {
    try {
      await this.run(`set ssl cert ${file}`, /^Transaction (created|updated) for certificate/m, lines);
      await this.run(`commit ssl cert ${file}`, /^Success!/m);
    } catch (err) {
      await statsCommand(this.statsSocket, `abort ssl cert ${file}`).catch(() => '');
      throw err;
    }
  }

  /** Adds a certificate HAProxy does not know yet, ready for a crt-list or directory to use it. */
  async add(file: string, lines: readonly string[]): Promise<void> {
    await this.run(`new ssl cert ${file}`, /^New empty certificate store/m);
    try {
      await this.replace(file, lines);
    } catch (err) {
      // Leave no empty store behind: a later upload of the same file would find it.
      await this.remove(file).catch(() => undefined);
      throw err;
    }
  }

  /** Drops a certificate no bind uses; HAProxy refuses one in use. */
  async remove(file: string): Promise<void> {
    await this.run(`del ssl cert ${file}`, /^Certificate '.*' deleted!/m);
  }
}
