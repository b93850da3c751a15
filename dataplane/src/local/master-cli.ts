import { socketCommand } from './unix-socket.js';

/** One line of the master CLI's `show proc`. */
export interface HaproxyProc {
  pid: number;
  type: 'master' | 'worker' | 'old-worker';
  reloads: number;
  failed?: number;
}

/** Parses `show proc` (HAProxy 2.6 layout: master line, `# workers`, optional `# old workers`). */
export function parseShowProc(text: string): HaproxyProc[] {
  const procs: HaproxyProc[] = [];
  let section: 'master' | 'worker' | 'old-worker' | 'other' = 'master';
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    if (t.startsWith('#')) {
      if (t.startsWith('# workers')) section = 'worker';
      else if (t.startsWith('# old workers')) section = 'old-worker';
      else if (!t.startsWith('#<PID>')) section = 'other';
      continue;
    }
    if (section === 'other') continue;
    const m = /^(\d+)\s+(\S+)\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?/.exec(t);
    if (!m) continue;
    const proc: HaproxyProc = { pid: Number(m[1]), type: m[2] === 'master' ? 'master' : section === 'master' ? 'worker' : section, reloads: Number(m[3]) };
    if (m[4] !== undefined) proc.failed = Number(m[4]);
    procs.push(proc);
  }
  return procs;
}

/** A snapshot of the master-worker state, as HAProxy itself reports it. */
export interface ProcState {
  master: HaproxyProc;
  workers: HaproxyProc[];
  oldWorkers: HaproxyProc[];
}

export async function showProc(masterSocket: string, timeoutMs?: number): Promise<ProcState> {
  const procs = parseShowProc(await socketCommand(masterSocket, 'show proc', timeoutMs));
  const master = procs.find((p) => p.type === 'master');
  if (!master) throw new Error('the master CLI answered `show proc` without a master line');
  return { master, workers: procs.filter((p) => p.type === 'worker'), oldWorkers: procs.filter((p) => p.type === 'old-worker') };
}
