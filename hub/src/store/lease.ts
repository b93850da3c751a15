import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** The lease's time to live unless configured (`leaseTtlMs`). */
export const DEFAULT_LEASE_TTL_MS = 5000;

const LEASE_KEY = 'ingressfed:leader';
const FENCE_KEY = 'ingressfed:fence';

// Renews only while this holder still owns the key: a deposed leader cannot extend another's lease.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
// Takes a fence above `ARGV[2]` while this holder still owns the lease: the counter never goes back,
// even when Redis lost it (a flush, a restart without persistence, a promoted replica that lagged).
const RAISE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if cur < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
return redis.call('INCR', KEYS[2])`;

export interface LeaseState {
  leader: boolean;
  /** Increases with every new leadership; a write carrying an older fence is refused. */
  fence: number | undefined;
  holder: string;
}

/**
 * The leader lease: `SET NX PX` on one key, renewed every third of its time with a compare-and-expire
 * script, and a fencing token (`INCR`) taken at every acquisition. Leadership is given up as soon as a
 * renewal fails or cannot be confirmed before the lease would have run out.
 */
export class LeaderLease {
  readonly holder = `${process.pid}-${randomUUID()}`;
  private leader = false;
  private fence: number | undefined;
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** After resigning, not before this time does it try to lead again (a standby goes first). */
  private quietUntil = 0;

  constructor(private readonly redis: Redis, private readonly ttlMs: number, private readonly onChange: (s: LeaseState) => void) {}

  state(): LeaseState {
    // Never claim leadership past the moment the lease may have expired in Redis.
    const leader = this.leader && Date.now() < this.validUntil;
    return { leader, fence: leader ? this.fence : undefined, holder: this.holder };
  }

  /** How much longer the lease is surely held (0 when it is not). */
  validFor(): number {
    return this.leader ? Math.max(0, this.validUntil - Date.now()) : 0;
  }

  start(): void {
    void this.tick();
  }

  /**
   * A fence above `seen` (an edge carries a fence this leader's does not exceed): taken only while
   * the lease is still this holder's. Answers the new fence, or undefined when the lease is not
   * this holder's any more (leadership is then given up).
   */
  async raiseFence(seen: number): Promise<number | undefined> {
    const fence = Number(await this.redis.eval(RAISE, 2, LEASE_KEY, FENCE_KEY, this.holder, String(seen)));
    if (fence < 0 || !this.leader) {
      this.lose();
      return undefined;
    }
    this.fence = fence;
    return fence;
  }

  /**
   * Gives the lease up because this leader cannot write (`why` is reported), and stays away from it
   * for `quietMs`, so that a standby takes over.
   */
  async resign(quietMs: number): Promise<void> {
    this.quietUntil = Date.now() + quietMs;
    if (this.leader) await this.redis.eval(RELEASE, 1, LEASE_KEY, this.holder).catch(() => undefined);
    this.lose();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    try {
      if (this.leader) {
        const ok = await this.redis.eval(RENEW, 1, LEASE_KEY, this.holder, String(this.ttlMs));
        if (ok === 1) this.validUntil = started + this.ttlMs;
        else this.lose();
      } else if (Date.now() >= this.quietUntil) {
        const ok = await this.redis.set(LEASE_KEY, this.holder, 'PX', this.ttlMs, 'NX');
        if (ok === 'OK') {
          this.fence = await this.redis.incr(FENCE_KEY);
          this.leader = true;
          this.validUntil = started + this.ttlMs;
          this.onChange(this.state());
        }
      }
    } catch {
      if (this.leader && Date.now() >= this.validUntil) this.lose();
    }
    if (this.leader && Date.now() >= this.validUntil) this.lose();
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), Math.max(50, Math.floor(this.ttlMs / 3)));
  }

  private lose(): void {
    if (!this.leader) return;
    this.leader = false;
    this.onChange(this.state());
  }

  /** Stops renewing; `release` gives the lease up at once (a clean shutdown), else it runs out. */
  async stop(release: boolean): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (release && this.leader) await this.redis.eval(RELEASE, 1, LEASE_KEY, this.holder).catch(() => undefined);
    this.lose();
  }
}
