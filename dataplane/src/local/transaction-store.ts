import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './config-store.js';
import type { ConfigModel } from './model.js';

export type TransactionStatus = 'in_progress' | 'success' | 'failed' | 'outdated';

export interface StoredTransaction {
  id: string;
  _version: number;
  status: TransactionStatus;
  model: ConfigModel;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Transactions persisted one file each, so they survive a restart and never expire, like
 * dataplaneapi's persistent transactions. Ids are UUIDs and are checked before they name a file.
 */
export class TransactionStore {
  private readonly dir: string;
  private readonly txs = new Map<string, StoredTransaction>();

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
    const tx: StoredTransaction = { id: randomUUID(), _version: version, status: 'in_progress', model: structuredClone(model) };
    this.save(tx);
    return tx;
  }

  get(id: string): StoredTransaction | undefined {
    return UUID.test(id) ? this.txs.get(id) : undefined;
  }

  list(status?: TransactionStatus): StoredTransaction[] {
    return [...this.txs.values()].filter((t) => status === undefined || t.status === status);
  }

  save(tx: StoredTransaction): void {
    this.txs.set(tx.id, tx);
    writeFileAtomic(join(this.dir, `${tx.id}.json`), JSON.stringify(tx));
  }

  delete(id: string): boolean {
    if (!this.get(id)) return false;
    this.txs.delete(id);
    const f = join(this.dir, `${id}.json`);
    if (existsSync(f)) rmSync(f);
    return true;
  }
}

/** The API view of a transaction. */
export const txView = (t: StoredTransaction): { _version: number; id: string; status: TransactionStatus } =>
  ({ _version: t._version, id: t.id, status: t.status });
