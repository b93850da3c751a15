import { connect } from 'node:net';

/**
 * Sends one command to an HAProxy CLI socket (stats or master) and returns the whole answer.
 * HAProxy closes a non-interactive connection after answering, which ends the read.
 */
export function socketCommand(path: string, command: string, timeoutMs = 5000): Promise<string> {
  if (/[\r\n\0]/.test(command)) {
    return Promise.reject(new Error('refusing a CLI command that contains a line break or NUL'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`HAProxy socket ${path} did not answer '${command.split(' ')[0]}' within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => sock.end(command + '\n'));
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
