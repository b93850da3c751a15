import { Backoff } from '@ingressfed/schemas';
import { ListWatch, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ListPromise } from '@kubernetes/client-node';
import { ObservedWatch } from './watch.js';

/** Default silence after which a watch is checked against the API server (see SupervisedInformer). */
export const DEFAULT_WATCH_STALL_MS = 90_000;
/** Default bound on a list, and on the wait for the answer to a watch request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export interface SupervisedInformerOptions<T extends KubernetesObject> {
  name: string;
  kubeconfig: KubeConfig;
  path: string;
  /** Lists the kind (with `fieldSelector`, if any); with `limit`, at most that many objects (the liveness probe asks for one). */
  list: (limit?: number) => Promise<KubernetesListObject<T>>;
  /** Watches only the objects this selects; `list` must select the same. */
  fieldSelector?: string;
  /** Called with the object on every add, update and delete, and without one after every successful (re)list. */
  onChange: (change?: { obj: T; deleted: boolean }) => void;
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A watch silent this long is checked against the API server's revision (default 90 s). */
  watchStallMs?: number;
  /** How long a list, or the answer to a watch request, may take before it counts as failed (default 60 s). */
  requestTimeoutMs?: number;
}

export interface InformerHealth {
  synced: boolean;
  /** Since when (ms) listing or watching has been failing; undefined while it works. */
  failingSince: number | undefined;
  lastError: string | undefined;
  restarts: number;
  /** Watches found stalled and replaced by a relist. */
  stalls: number;
  lastStallAt: number | undefined;
}

/** `p`, or a rejection once `ms` have passed without an answer. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * A client-node informer kept alive: when it stops on an error it is started again with exponential
 * backoff. Its cache survives restarts, so a failing API server never empties what the spoke knows.
 * `synced` turns true after the first list that succeeded; only then may the spoke sweep deletions.
 *
 * Liveness: a watch asks for bookmarks, which an API server sends to an idle watch about once a
 * minute. A watch that has delivered nothing for `watchStallMs` is checked with a list of one
 * object: if the API server's revision is past every revision the informer has seen, the watch
 * missed something (or is stuck), and it is ended as a 410 Gone would end it: the informer lists
 * again. A missed change is thus published within `watchStallMs` plus a quarter of it (the check
 * period, at most 10 s), plus one list.
 */
export class SupervisedInformer<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private readonly watch: ObservedWatch;
  private stopped = false;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;
  private liveness: NodeJS.Timeout | undefined;
  private probing = false;
  private everSynced = false;
  private failedSinceStart = false;
  /** When the watch last delivered anything, or the last list succeeded. */
  private lastActivity = Date.now();
  restarts = 0;
  stalls = 0;
  lastStallAt: number | undefined;
  lastError: string | undefined;
  failingSince: number | undefined;
  /** When a (re)list returned no objects although the cache had some; cleared by a non-empty list. */
  emptyListAt: number | undefined;
  /** The highest resourceVersion seen: of every list (the API server's revision then), object and bookmark. */
  revision = 0n;

  constructor(private readonly opts: SupervisedInformerOptions<T>) {
    this.backoff = new Backoff(opts.initialBackoffMs ?? 250, opts.maxBackoffMs ?? 10_000);
    // Watch the list results: a relist that comes back empty while the cache holds objects is the
    // signature of a broken API server, and must not be believed at once (see Spoke).
    const list: ListPromise<T> = async () => {
      // client-node bounds no request: a list the API server never answers would stop the informer for ever.
      const res = await within(opts.list(), opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
      this.reachable();
      this.see(res.metadata?.resourceVersion);
      if ((res.items?.length ?? 0) > 0) this.emptyListAt = undefined;
      else if (this.informer.list().length > 0) this.emptyListAt = Date.now();
      return res;
    };
    this.watch = new ObservedWatch(opts.kubeconfig, opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, opts.fieldSelector);
    this.watch.onEvent = (_type, obj) => {
      this.lastActivity = Date.now();
      this.see(obj?.metadata?.resourceVersion);
    };
    this.watch.onOpen = () => this.reachable();
    this.informer = new ListWatch<T>(opts.path, this.watch, list, false);
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
    const v = parseRevision(resourceVersion);
    if (v !== undefined && v > this.revision) this.revision = v;
  }

  get synced(): boolean {
    return this.everSynced;
  }

  health(): InformerHealth {
    return {
      synced: this.everSynced, failingSince: this.failingSince, lastError: this.lastError,
      restarts: this.restarts, stalls: this.stalls, lastStallAt: this.lastStallAt,
    };
  }

  list(): T[] {
    return [...this.informer.list()];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  async start(): Promise<void> {
    this.stopped = false;
    const stallMs = this.opts.watchStallMs ?? DEFAULT_WATCH_STALL_MS;
    this.liveness = setInterval(() => void this.checkLiveness(), Math.max(50, Math.min(10_000, Math.floor(stallMs / 4))));
    this.liveness.unref();
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

  /** A list answered, or a watch opened: the API server is reachable again. */
  private reachable(): void {
    this.lastActivity = Date.now();
    if (this.failingSince === undefined) return;
    this.opts.log('info', 'informer reaches the API server again', { informer: this.opts.name, unavailableMs: Date.now() - this.failingSince });
    this.failingSince = undefined;
  }

  private failed(err: unknown): void {
    if (this.stopped) return; // stop() aborts the watch, which client-node reports as an error
    this.failedSinceStart = true;
    this.failingSince ??= Date.now();
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

  /** Relists when the open watch has been silent for `watchStallMs` while the API server moved on. */
  private async checkLiveness(): Promise<void> {
    const stallMs = this.opts.watchStallMs ?? DEFAULT_WATCH_STALL_MS;
    const silent = (): number => Date.now() - this.lastActivity;
    if (this.stopped || this.probing || !this.watch.open || silent() < stallMs) return;
    this.probing = true;
    try {
      const server = parseRevision((await within(this.opts.list(1), Math.min(stallMs, 10_000))).metadata?.resourceVersion);
      if (server === undefined || server <= this.revision) {
        this.lastActivity = Date.now(); // nothing was missed: check again after another stallMs
        return;
      }
      if (silent() >= stallMs && server > this.revision) this.stalled({ silentMs: silent(), seenRevision: String(this.revision), serverRevision: String(server) });
    } catch (err) {
      // The watch is silent and the API server does not answer a list: relist, and let that fail visibly.
      this.stalled({ silentMs: silent(), probeError: (err as Error).message });
    } finally {
      this.probing = false;
    }
  }

  private stalled(fields: Record<string, unknown>): void {
    if (this.stopped || !this.watch.expire('watch stalled')) return;
    this.stalls++;
    this.lastStallAt = Date.now();
    this.lastActivity = Date.now();
    this.opts.log('warn', 'watch stalled: nothing received although the API server moved on; listing again', { informer: this.opts.name, ...fields });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.liveness) clearInterval(this.liveness);
    this.timer = undefined;
    await this.informer.stop().catch(() => undefined);
  }
}

function parseRevision(resourceVersion: string | undefined): bigint | undefined {
  return resourceVersion !== undefined && /^[0-9]{1,20}$/.test(resourceVersion) ? BigInt(resourceVersion) : undefined;
}
