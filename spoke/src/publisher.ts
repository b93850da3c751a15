import { createHash } from 'node:crypto';
import { KvWatchInclude, type KV } from '@nats-io/kv';
import { isObjectKey } from '@ingressfed/schemas';
import { refusalOf, type RecordRefusal } from './refusals.js';
import type { DesiredRecord } from './translate.js';

export interface SyncResult {
  puts: number;
  deletes: number;
  failed: number;
  lastError?: string;
  /** Records not published because the hub would refuse them, new or with a new reason. */
  refused: Array<RecordRefusal & { kept: boolean }>;
  /** Keys refused before whose record is now published, or gone. */
  cleared: string[];
}

const emptyResult = (): SyncResult => ({ puts: 0, deletes: 0, failed: 0, refused: [], cleared: [] });

function contentOfStored(json: string): string | undefined {
  try {
    const { epoch: _e, observedAt: _o, revision: _r, ...rest } = JSON.parse(json) as Record<string, unknown>;
    return JSON.stringify(rest);
  } catch {
    return undefined;
  }
}

/**
 * Keeps this cluster's keys of the state bucket equal to the desired records. It writes only what
 * differs, and deletes (sweeps) keys that are no longer desired only when told the caches are
 * complete; what it has published is known from the bucket itself, so a restart writes nothing new.
 * A record the hub would refuse is not written, and its key keeps its last published version.
 */
export class StatePublisher {
  private readonly published = new Map<string, { content: string; revision: string }>();
  /** Keys whose current record the hub would refuse: not published, and their last published version kept. */
  private readonly refusedKeys = new Map<string, { reason: string; since: number }>();
  /** Writes in flight: key → the content being put, or null for a delete (their echoes are not drift). */
  private readonly inFlight = new Map<string, string | null>();
  /**
   * Writes that failed without an answer (a timeout, a lost connection): they may have been stored.
   * key → what was put, or null for a delete. Their echo on the watch confirms them (not drift).
   */
  private readonly unconfirmed = new Map<string, { content: string; revision: string } | null>();
  private stopWatch: () => void = () => undefined;

  constructor(private readonly kv: KV, private readonly cluster: string) {}

  /**
   * Watches this cluster's keys for changes it did not make (a key deleted or altered by someone
   * holding the cluster's credentials, a restored bucket): `onDrift` is told, and the spoke reads
   * the bucket again and rewrites what differs (see reload).
   */
  async watchForDrift(onDrift: (key: string) => void): Promise<void> {
    const iter = await this.kv.watch({ key: `${this.cluster}.>`, include: KvWatchInclude.UpdatesOnly });
    this.stopWatch = () => iter.stop();
    void (async () => {
      for await (const e of iter) {
        if (!isObjectKey(e.key)) continue;
        const now = e.operation === 'PUT' ? contentOfStored(e.string()) ?? '' : null;
        if (this.confirmed(e.key, now)) continue;
        const expected = this.inFlight.has(e.key) ? this.inFlight.get(e.key) : this.published.get(e.key)?.content ?? null;
        if (now !== expected && now !== (this.published.get(e.key)?.content ?? null)) onDrift(e.key);
      }
    })();
  }

  stop(): void {
    this.stopWatch();
  }

  /** Whether `now` (a key's content, null when deleted) is the echo of a write whose answer was lost: it was stored after all. */
  private confirmed(key: string, now: string | null): boolean {
    if (!this.unconfirmed.has(key)) return false;
    const sent = this.unconfirmed.get(key);
    if ((sent?.content ?? null) !== now) return false;
    this.unconfirmed.delete(key);
    if (sent) this.published.set(key, sent);
    else this.published.delete(key);
    return true;
  }

  /** Forgets what it believes it published and reads the bucket again (the next sync rewrites what differs). */
  async reload(): Promise<number> {
    this.published.clear();
    this.unconfirmed.clear();
    return this.loadExisting();
  }

  /** Reads what this cluster already has in the bucket (after a restart). */
  async loadExisting(): Promise<number> {
    const keys = await this.kv.keys(`${this.cluster}.>`);
    for await (const key of keys) {
      if (!isObjectKey(key)) continue;
      const e = await this.kv.get(key);
      if (!e || e.operation !== 'PUT') continue;
      const json = e.string();
      const content = contentOfStored(json);
      if (content !== undefined) {
        this.published.set(key, { content, revision: String((JSON.parse(json) as { revision?: unknown }).revision ?? '') });
      }
    }
    return this.published.size;
  }

  get size(): number {
    return this.published.size;
  }

  /** sha256 over the sorted keys and the revisions published. */
  digest(): string {
    const h = createHash('sha256');
    for (const k of [...this.published.keys()].sort()) h.update(`${k}=${this.published.get(k)?.revision ?? ''}\n`);
    return h.digest('hex');
  }

  /** The keys whose record is withheld, with the hub's reason and since when. */
  refusals(): Array<{ key: string; reason: string; since: number }> {
    return [...this.refusedKeys].map(([key, r]) => ({ key, ...r }));
  }

  /** Writes the records that changed (undefined: gone, deleted when `sweep`). */
  async apply(changes: Map<string, DesiredRecord | undefined>, sweep: boolean): Promise<SyncResult> {
    const result = emptyResult();
    for (const [key, d] of changes) {
      if (d) await this.put(d, result);
      else {
        this.clearRefusal(key, result);
        if (sweep && this.published.has(key)) await this.delete(key, result);
      }
    }
    return result;
  }

  private clearRefusal(key: string, result: SyncResult): void {
    if (this.refusedKeys.delete(key)) result.cleared.push(key);
  }

  /** A record the hub would refuse is not written: the bucket keeps the key's last published version. */
  private refuse(r: RecordRefusal, result: SyncResult): void {
    if (this.refusedKeys.get(r.key)?.reason === r.reason) return;
    this.refusedKeys.set(r.key, { reason: r.reason, since: Date.now() });
    result.refused.push({ ...r, kept: this.published.has(r.key) });
  }

  private async put(d: DesiredRecord, result: SyncResult): Promise<void> {
    if (this.published.get(d.key)?.content === d.content) return this.clearRefusal(d.key, result);
    const json = JSON.stringify(d.record);
    const refusal = refusalOf(d.key, d.record, json);
    if (refusal) return this.refuse(refusal, result);
    this.clearRefusal(d.key, result);
    this.inFlight.set(d.key, d.content);
    this.unconfirmed.delete(d.key);
    try {
      await this.kv.put(d.key, json);
      this.published.set(d.key, { content: d.content, revision: d.record.revision });
      result.puts++;
    } catch (err) {
      this.unconfirmed.set(d.key, { content: d.content, revision: d.record.revision });
      result.failed++;
      result.lastError = (err as Error).message;
    } finally {
      this.inFlight.delete(d.key);
    }
  }

  private async delete(key: string, result: SyncResult): Promise<void> {
    this.inFlight.set(key, null);
    this.unconfirmed.delete(key);
    try {
      await this.kv.delete(key);
      this.published.delete(key);
      result.deletes++;
    } catch (err) {
      this.unconfirmed.set(key, null);
      result.failed++;
      result.lastError = (err as Error).message;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** Makes the bucket equal to the whole desired set: writes what differs, deletes the rest when `sweep`. */
  async sync(desired: Iterable<DesiredRecord>, sweep: boolean): Promise<SyncResult> {
    const result = emptyResult();
    const want = new Set<string>();
    for (const d of desired) {
      want.add(d.key);
      await this.put(d, result);
    }
    for (const key of [...this.refusedKeys.keys()]) if (!want.has(key)) this.clearRefusal(key, result);
    if (sweep) for (const key of [...this.published.keys()]) if (!want.has(key)) await this.delete(key, result);
    return result;
  }
}
