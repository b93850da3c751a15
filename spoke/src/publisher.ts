import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { parseStateKey } from '@ingressfed/schemas';
import type { DesiredRecord } from './translate.js';

export interface SyncResult {
  puts: number;
  deletes: number;
  failed: number;
  lastError?: string;
}

function contentOfStored(json: string): string | undefined {
  try {
    const { epoch: _e, observedAt: _o, ...rest } = JSON.parse(json) as Record<string, unknown>;
    return JSON.stringify(rest);
  } catch {
    return undefined;
  }
}

/**
 * Keeps this cluster's keys of the state bucket equal to the desired records. It writes only what
 * differs, and deletes (sweeps) keys that are no longer desired only when told the caches are
 * complete; what it has published is known from the bucket itself, so a restart writes nothing new.
 */
export class StatePublisher {
  private readonly published = new Map<string, { content: string; rv: string }>();

  constructor(private readonly kv: KV, private readonly cluster: string) {}

  /** Reads what this cluster already has in the bucket (after a restart). */
  async loadExisting(): Promise<number> {
    const keys = await this.kv.keys(`${this.cluster}.>`);
    for await (const key of keys) {
      let parsed;
      try {
        parsed = parseStateKey(key);
      } catch {
        parsed = undefined;
      }
      if (!parsed || parsed.type !== 'object') continue;
      const e = await this.kv.get(key);
      if (!e || e.operation !== 'PUT') continue;
      const json = e.string();
      const content = contentOfStored(json);
      if (content !== undefined) {
        const rv = String((JSON.parse(json) as { source?: { resourceVersion?: string } }).source?.resourceVersion ?? '');
        this.published.set(key, { content, rv });
      }
    }
    return this.published.size;
  }

  get size(): number {
    return this.published.size;
  }

  /** sha256 over the sorted keys and source resourceVersions published. */
  digest(): string {
    const h = createHash('sha256');
    for (const k of [...this.published.keys()].sort()) h.update(`${k}=${this.published.get(k)?.rv ?? ''}\n`);
    return h.digest('hex');
  }

  /** Writes the records that changed (undefined: gone, deleted when `sweep`). */
  async apply(changes: Map<string, DesiredRecord | undefined>, sweep: boolean): Promise<SyncResult> {
    const result: SyncResult = { puts: 0, deletes: 0, failed: 0 };
    for (const [key, d] of changes) {
      if (d) await this.put(d, result);
      else if (sweep && this.published.has(key)) await this.delete(key, result);
    }
    return result;
  }

  private async put(d: DesiredRecord, result: SyncResult): Promise<void> {
    if (this.published.get(d.key)?.content === d.content) return;
    try {
      await this.kv.put(d.key, JSON.stringify(d.record));
      this.published.set(d.key, { content: d.content, rv: d.record.source.resourceVersion });
      result.puts++;
    } catch (err) {
      result.failed++;
      result.lastError = (err as Error).message;
    }
  }

  private async delete(key: string, result: SyncResult): Promise<void> {
    try {
      await this.kv.delete(key);
      this.published.delete(key);
      result.deletes++;
    } catch (err) {
      result.failed++;
      result.lastError = (err as Error).message;
    }
  }

  /** Makes the bucket equal to the whole desired set: writes what differs, deletes the rest when `sweep`. */
  async sync(desired: Iterable<DesiredRecord>, sweep: boolean): Promise<SyncResult> {
    const result: SyncResult = { puts: 0, deletes: 0, failed: 0 };
    const want = new Set<string>();
    for (const d of desired) {
      want.add(d.key);
      await this.put(d, result);
    }
    if (sweep) for (const key of [...this.published.keys()]) if (!want.has(key)) await this.delete(key, result);
    return result;
  }
}
