import { Backoff } from '@ingressfed/schemas';
import { makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ListPromise, type ObjectCache } from '@kubernetes/client-node';

export interface SupervisedInformerOptions<T extends KubernetesObject> {
  name: string;
  kubeconfig: KubeConfig;
  path: string;
  list: ListPromise<T>;
  /** Called with the object on every add, update and delete, and without one after every successful (re)list. */
  onChange: (change?: { obj: T; deleted: boolean }) => void;
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * A client-node informer kept alive: when it stops on an error it is started again with exponential
 * backoff. Its cache survives restarts, so a failing API server never empties what the spoke knows.
 * `synced` turns true after the first list that succeeded; only then may the spoke sweep deletions.
 */
export class SupervisedInformer<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private stopped = false;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;
  private everSynced = false;
  private failedSinceStart = false;
  restarts = 0;
  lastError: string | undefined;
  /** When a (re)list returned no objects although the cache had some; cleared by a non-empty list. */
  emptyListAt: number | undefined;
  /** The highest resourceVersion seen: of every list (the API server's revision then) and every object. */
  revision = 0n;

  constructor(private readonly opts: SupervisedInformerOptions<T>) {
    this.backoff = new Backoff(opts.initialBackoffMs ?? 250, opts.maxBackoffMs ?? 10_000);
    // Watch the list results: a relist that comes back empty while the cache holds objects is the
    // signature of a broken API server, and must not be believed at once (see Spoke).
    const list: ListPromise<T> = async () => {
      const res = await opts.list();
      this.see(res.metadata?.resourceVersion);
      if ((res.items?.length ?? 0) > 0) this.emptyListAt = undefined;
      else if (this.informer.list().length > 0) this.emptyListAt = Date.now();
      return res;
    };
    this.informer = makeInformer<T>(opts.kubeconfig, opts.path, list);
    for (const [event, deleted] of [['add', false], ['update', false], ['delete', true]] as const) {
      this.informer.on(event, (obj) => {
        this.see(obj.metadata?.resourceVersion);
        opts.onChange({ obj, deleted });
      });
    }
    this.informer.on('error', (err: unknown) => this.failed(err));
  }

  /** resourceVersions are opaque to clients; an API server backed by etcd gives decimal revisions, the only ones used. */
  private see(resourceVersion: string | undefined): void {
    if (resourceVersion === undefined || !/^[0-9]{1,20}$/.test(resourceVersion)) return;
    const v = BigInt(resourceVersion);
    if (v > this.revision) this.revision = v;
  }

  get synced(): boolean {
    return this.everSynced;
  }

  list(): T[] {
    return [...this.informer.list()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.run();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    this.failedSinceStart = false;
    try {
      await this.informer.start();
    } catch (err) {
      this.failed(err);
      return;
    }
    if (!this.failedSinceStart && !this.stopped) {
      if (!this.everSynced) this.opts.log('info', 'informer synced', { informer: this.opts.name });
      this.everSynced = true;
      this.backoff.reset();
      this.opts.onChange();
    }
  }

  private failed(err: unknown): void {
    if (this.stopped) return; // stop() aborts the watch, which client-node reports as an error
    this.failedSinceStart = true;
    this.lastError = err instanceof Error ? err.message : String(err);
    if (this.timer) return;
    const wait = this.backoff.fail();
    this.restarts++;
    this.opts.log('warn', 'informer stopped; restarting', { informer: this.opts.name, error: this.lastError, retryInMs: wait });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, wait);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.informer.stop().catch(() => undefined);
  }
}
