import { connect } from 'node:net';

/**
 * Sends one command to an HAProxy CLI socket (stats or master) and returns the whole answer.
 * HAProxy closes a non-interactive connection after answering, which ends the read.
 */
export function socketCommand(path: string, command: string, timeoutMs = 5000): Promise<string> {
  if (/[\r\n\0]/.test(command)) {
    return Promise.reject(new Error('refusing a CLI command that contains a line break or NUL'));
  }
  return exchange(path, `${command}\n`, command.split(' ')[0] as string, timeoutMs);
}

/**
 * Sends a command with a payload, in the CLI's `<command> <<` form: one payload line per element,
 * ended by an empty line. An empty line inside the payload would end it early, so none is accepted.
 */
export function socketPayloadCommand(path: string, command: string, lines: readonly string[], timeoutMs = 5000): Promise<string> {
  if (/[\r\n\0]/.test(command) || lines.some((l) => l === '' || /[\r\n\0]/.test(l))) {
    return Promise.reject(new Error('refusing a CLI payload with an empty line, a line break or NUL'));
  }
  return exchange(path, `${command} <<\n${lines.join('\n')}\n\n`, command.split(' ')[0] as string, timeoutMs);
}

function exchange(path: string, text: string, verb: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`HAProxy socket ${path} did not answer '${verb}' within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.end(text));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}
