import { isIP } from 'node:net';
import { ApiError, badRequest, notFound } from './api-error.js';
import type { RuntimeServer } from './model.js';
import { socketCommand, socketPayloadCommand } from './unix-socket.js';

// Runtime server state through HAProxy's stats socket: read with `show servers state`, written with
// `set server` / `set weight`. Nothing here touches haproxy.cfg, so nothing here reloads HAProxy.

// srv_admin_state masks (HAProxy include/haproxy/server-t.h): SRV_ADMF_MAINT = forced | inherited |
// resolution maintenance. CMAINT (0x04) only records that the configuration said `disabled`; a
// server with CMAINT alone is ready once `set server ... state ready` cleared the forced flag.
const MAINT_MASK = 0x23;
const DRAIN_MASK = 0x18;

/** HAProxy's own charset for proxy and server names; anything else cannot name a real object. */
const HAPROXY_NAME = /^[A-Za-z0-9._:-]{1,255}$/;

function checkName(kind: string, name: string): void {
  if (!HAPROXY_NAME.test(name)) {
    throw badRequest(`invalid ${kind} name: HAProxy names use only letters, digits, '.', '_', ':' and '-'`);
  }
}

const num = (s: string | undefined): number | null => (s === undefined || s === '-' || s === '' ? null : Number(s));

/** Parses `show servers state <backend>` (format version 1) into the API's runtime_server shape. */
export function parseServersState(text: string): RuntimeServer[] {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('# be_id'));
  if (!header) return [];
  const cols = header.slice(2).trim().split(/\s+/);
  const out: RuntimeServer[] = [];
  for (const line of lines) {
    if (line.trim() === '' || line.startsWith('#') || /^\d+$/.test(line.trim())) continue;
    const vals = line.trim().split(/\s+/);
    const row: Record<string, string> = {};
    cols.forEach((c, i) => (row[c] = vals[i] ?? ''));
    // Read as client-native reads it: the decimal field parsed as hexadecimal. For the states the hub
    // uses (0 ready, 1 or 5 maint, 8 drain, 9 maint) both readings agree.
    const admin = parseInt(row.srv_admin_state ?? '0', 16) || 0;
    const op = Number(row.srv_op_state ?? 0);
    out.push({
      id: row.srv_id,
      name: row.srv_name,
      address: row.srv_addr,
      port: num(row.srv_port) || null,
      admin_state: admin & MAINT_MASK ? 'maint' : admin & DRAIN_MASK ? 'drain' : 'ready',
      operational_state: op === 0 ? 'down' : op === 3 ? 'stopping' : 'up',
      weight: num(row.srv_uweight),
      uweight: num(row.srv_uweight),
      iweight: num(row.srv_iweight),
      check_status: num(row.srv_check_status),
      check_result: num(row.srv_check_result),
      check_health: num(row.srv_check_health),
      check_state: num(row.srv_check_state),
      agent_state: num(row.srv_agent_state),
      backend_id: num(row.be_id),
      backend_name: row.be_name,
      last_time_change: num(row.srv_time_since_last_change),
      use_ssl: row.srv_use_ssl === '1',
    } as RuntimeServer);
  }
  return out;
}

const NUMERIC_STAT = /^(scur|smax|slim|stot|qcur|qmax|qlimit|bin|bout|dreq|dresp|ereq|econ|eresp|wretr|wredis|weight|act|bck|chkfail|chkdown|lastchg|downtime|lbtot|rate|rate_max|req_rate|req_tot|hrsp_[1-5]xx|hrsp_other|conn_tot|qtime|ctime|rtime|ttime|cli_abrt|srv_abrt|check_duration|check_code|lastsess|iid|sid|pid)$/;

/** Parses `show stat` CSV into the API's native_stat list (numbers where the spec has integers). */
export function parseShowStat(csv: string): Array<{ type: 'frontend' | 'backend' | 'server'; name: string; backend_name?: string; stats: Record<string, unknown> }> {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').replace(/^# /, '').split(',');
  const out: Array<{ type: 'frontend' | 'backend' | 'server'; name: string; backend_name?: string; stats: Record<string, unknown> }> = [];
  for (const line of lines) {
    const cols = line.split(',');
    const row: Record<string, string> = {};
    header.forEach((h, i) => (row[h] = cols[i] ?? ''));
    const stats: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) {
      if (v === '' || k === 'pxname' || k === 'svname' || k === 'type') continue;
      stats[k] = NUMERIC_STAT.test(k) && /^-?\d+$/.test(v) ? Number(v) : v;
    }
    const type = row.type === '0' ? 'frontend' : row.type === '1' ? 'backend' : row.type === '2' ? 'server' : undefined;
    if (!type) continue;
    out.push(type === 'server'
      ? { type, name: row.svname ?? '', backend_name: row.pxname ?? '', stats }
      : { type, name: row.pxname ?? '', stats });
  }
  return out;
}

/** One command (with its payload lines, if any) on HAProxy's stats socket; a socket failure is a 500. */
export async function statsCommand(statsSocket: string, cmd: string, payload?: readonly string[]): Promise<string> {
  try {
    return await (payload ? socketPayloadCommand(statsSocket, cmd, payload) : socketCommand(statsSocket, cmd));
  } catch (err) {
    throw new ApiError(500, `runtime API unavailable: ${(err as Error).message}`, { cause: err });
  }
}

export class RuntimeClient {
  constructor(private readonly statsSocket: string) {}

  private command(cmd: string): Promise<string> {
    return statsCommand(this.statsSocket, cmd);
  }

  async listServers(backend: string): Promise<RuntimeServer[]> {
    checkName('backend', backend);
    const text = await this.command(`show servers state ${backend}`);
    if (/Can't find backend/i.test(text)) throw notFound(`backend ${backend} does not exist in the running HAProxy`);
    return parseServersState(text);
  }

  /** `show stat`, filtered like GET /stats/native (type, name, parent). */
  async stats(filter: { type?: string; name?: string; parent?: string }): Promise<{ runtimeAPI: string; stats: ReturnType<typeof parseShowStat> }> {
    const all = parseShowStat(await this.command('show stat'));
    const stats = all.filter((s) => (filter.type === undefined || s.type === filter.type) && (filter.name === undefined || s.name === filter.name) &&
      (filter.parent === undefined || s.backend_name === filter.parent));
    return { runtimeAPI: this.statsSocket, stats };
  }

  async getServer(backend: string, name: string): Promise<RuntimeServer> {
    checkName('server', name);
    const s = (await this.listServers(backend)).find((x) => x.name === name);
    if (!s) throw notFound(`server ${name} does not exist in backend ${backend} of the running HAProxy`);
    return s;
  }

  /**
   * Applies the writable fields of a runtime_server (admin_state, operational_state, weight, address,
   * port). Changes already applied are rolled back if a later one fails, as dataplaneapi does.
   */
  async replaceServer(backend: string, name: string, want: RuntimeServer): Promise<RuntimeServer> {
    const before = await this.getServer(backend, name);
    if (want.address !== undefined && isIP(want.address) === 0) {
      throw badRequest(`address '${want.address.slice(0, 64)}' is not an IP address`);
    }
    // dataplaneapi's order: operational state, admin state, weight, then address and port.
    const steps: Array<{ apply: string; undo: string }> = [];
    const target = `${backend}/${name}`;
    if (want.operational_state !== undefined && want.operational_state !== before.operational_state) {
      const health = (s: string | undefined): string => (s === 'stopping' ? 'stopping' : s === 'down' ? 'down' : 'up');
      steps.push({ apply: `set server ${target} health ${health(want.operational_state)}`, undo: `set server ${target} health ${health(before.operational_state)}` });
    }
    if (want.admin_state !== undefined && want.admin_state !== before.admin_state) {
      steps.push({ apply: `set server ${target} state ${want.admin_state}`, undo: `set server ${target} state ${before.admin_state}` });
    }
    if (isNum(want.weight) && want.weight !== before.weight) {
      if (want.weight < 0 || want.weight > 256) throw badRequest(`weight ${want.weight} is outside 0..256`);
      steps.push({ apply: `set weight ${target} ${want.weight}`, undo: `set weight ${target} ${before.weight ?? 1}` });
    }
    if ((want.address !== undefined && want.address !== before.address) || (isNum(want.port) && want.port !== before.port)) {
      const addr = want.address ?? before.address ?? '';
      const port = isNum(want.port) ? want.port : before.port;
      steps.push({
        apply: `set server ${target} addr ${addr}${isNum(port) ? ` port ${port}` : ''}`,
        undo: `set server ${target} addr ${before.address ?? ''}${isNum(before.port) ? ` port ${before.port}` : ''}`,
      });
    }
    const done: string[] = [];
    for (const step of steps) {
      const answer = (await this.command(step.apply)).trim();
      if (isRuntimeFailure(answer)) {
        for (const undo of done.reverse()) await this.command(undo).catch(() => '');
        throw badRequest(`runtime change '${step.apply}' failed: ${answer}`);
      }
      done.push(step.undo);
    }
    return this.getServer(backend, name);
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** `set server` answers empty or a notice on success, and a reason on failure. */
function isRuntimeFailure(answer: string): boolean {
  if (answer === '' || /changed from|^IP changed|^no need to change/i.test(answer)) return false;
  return /(invalid|unknown|can't|cannot|require|not found|no such|failed|error|refus|only supported)/i.test(answer);
}
