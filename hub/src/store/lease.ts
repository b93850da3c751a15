import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const LEASE_KEY = 'ingressfed:leader';
const FENCE_KEY = 'ingressfed:fence';

// Renews only while this holder still owns the key: a deposed leader cannot extend another's lease.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

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

  constructor(private readonly redis: Redis, private readonly ttlMs: number, private readonly onChange: (s: LeaseState) => void) {}

  state(): LeaseState {
    // Never claim leadership past the moment the lease may have expired in Redis.
    const leader = this.leader && Date.now() < this.validUntil;
    return { leader, fence: leader ? this.fence : undefined, holder: this.holder };
  }

  start(): void {
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    try {
      if (this.leader) {
        const ok = await this.redis.eval(RENEW, 1, LEASE_KEY, this.holder, String(this.ttlMs));
        if (ok === 1) this.validUntil = started + this.ttlMs;
        else this.lose();
      } else {
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
