import { hash } from 'node:crypto';

/** Heartbeats in a row whose digest differs before a cluster is reported out of sync (records in flight settle within one). */
export const OUT_OF_SYNC_BEATS = 3;

/**
 * What a cluster's object keys in the state bucket are, as the hub received them (valid or not), to
 * compare with the digest its spoke puts in every heartbeat: sha256 over the sorted keys and record
 * revisions the spoke published. A difference that lasts means someone else changed the
 * cluster's keys (or the spoke is not repairing them): reported, while the spoke's own watch repairs.
 */
export class KeyDigest {
  private readonly versions = new Map<string, string>();
  private memo: string | undefined;
  /** Heartbeats in a row whose digest differed. */
  mismatches = 0;

  set(key: string, revision: string): void {
    this.versions.set(key, revision);
    this.memo = undefined;
  }

  delete(key: string): void {
    if (this.versions.delete(key)) this.memo = undefined;
  }

  /** The same digest a spoke computes (computed again only after a change). */
  digest(): string {
    this.memo ??= hash('sha256', [...this.versions.keys()].sort().map((k) => `${k}=${this.versions.get(k) ?? ''}\n`).join(''));
    return this.memo;
  }

  /** Compares with a heartbeat's digest; answers whether the cluster is in sync. */
  check(heartbeatDigest: string): boolean {
    this.mismatches = heartbeatDigest === this.digest() ? 0 : this.mismatches + 1;
    return this.mismatches < OUT_OF_SYNC_BEATS;
  }
}

/** A stored record's revision, read loosely (refused records count too). */
export function revisionOf(value: Uint8Array): string {
  try {
    const v = JSON.parse(Buffer.from(value).toString('utf8')) as { revision?: unknown };
    return String(v.revision ?? '');
  } catch {
    return '';
  }
}
