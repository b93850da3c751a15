import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './config-store.js';
import { cloneModel, type ConfigModel } from './model.js';

export type TransactionStatus = 'in_progress' | 'success' | 'failed' | 'outdated';

export interface StoredTransaction {
  id: string;
  _version: number;
  status: TransactionStatus;
  model: ConfigModel;
}

const FLUSH_MS = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Transactions persisted one file each, so they survive a restart and never expire, like
 * dataplaneapi's persistent transactions. Ids are UUIDs and are checked before they name a file.
 * Writes inside a transaction are persisted within FLUSH_MS (at once on create, commit and stop):
 * writing a whole large configuration on each of ten thousand writes would take hours.
 */
export class TransactionStore {
  private readonly dir: string;
  private readonly txs = new Map<string, StoredTransaction>();
  private readonly unsaved = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(workdir: string) {
    this.dir = join(workdir, 'transactions');
    mkdirSync(this.dir, { recursive: true });
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json') || !UUID.test(f.slice(0, -5))) continue;
      const tx = JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as StoredTransaction;
      this.txs.set(tx.id, tx);
    }
  }

  create(version: number, model: ConfigModel): StoredTransaction {
    const tx: StoredTransaction = { id: randomUUID(), _version: version, status: 'in_progress', model: cloneModel(model) };
    this.save(tx);
    return tx;
  }

  get(id: string): StoredTransaction | undefined {
    return UUID.test(id) ? this.txs.get(id) : undefined;
  }

  list(status?: TransactionStatus): StoredTransaction[] {
    return [...this.txs.values()].filter((t) => status === undefined || t.status === status);
  }

  /** Keeps `tx`; `soon`: persist it within FLUSH_MS rather than now. */
  save(tx: StoredTransaction, opts: { soon?: boolean } = {}): void {
    this.txs.set(tx.id, tx);
    if (!opts.soon) {
      this.unsaved.delete(tx.id);
      writeFileAtomic(join(this.dir, `${tx.id}.json`), JSON.stringify(tx));
      return;
    }
    this.unsaved.add(tx.id);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Persists every transaction kept since it was last written. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const id of this.unsaved) {
      const tx = this.txs.get(id);
      if (tx) writeFileAtomic(join(this.dir, `${id}.json`), JSON.stringify(tx));
    }
    this.unsaved.clear();
  }

  delete(id: string): boolean {
    if (!this.get(id)) return false;
    this.txs.delete(id);
    this.unsaved.delete(id);
    const f = join(this.dir, `${id}.json`);
    if (existsSync(f)) rmSync(f);
    return true;
  }
}

/** The API view of a transaction. */
export const txView = (t: StoredTransaction): { _version: number; id: string; status: TransactionStatus } =>
  ({ _version: t._version, id: t.id, status: t.status });
