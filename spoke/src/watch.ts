import { Watch, type KubeConfig } from '@kubernetes/client-node';

type Done = (err: unknown) => void;

/** The error a 410 Gone ends a watch with: client-node's ListWatch then lists again, keeping its cache. */
function expired(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 410 });
}

/**
 * The client-node Watch, made observable: it asks the API server for BOOKMARK events, tells its
 * owner of every event received and of every watch that opened, and can end the open watch as if
 * the server had answered 410 Gone. client-node's own Watch has no idle timeout, so a stream held
 * open and silent would otherwise go unnoticed for ever.
 */
export class ObservedWatch extends Watch {
  /** Called with every event (bookmarks included) of the open watch. */
  onEvent: (type: string, obj: { metadata?: { resourceVersion?: string } } | undefined) => void = () => undefined;
  /** Called once the API server has answered a watch request with a stream. */
  onOpen: () => void = () => undefined;
  private current: Done | undefined;
  private stream: AbortController | undefined;

  /**
   * @param answerTimeoutMs how long a watch request may wait for the API server's answer (its
   *   headers). client-node sets no such limit, so a request the server accepted and never answered
   *   would leave the informer waiting for ever, neither watching nor retrying.
   * @param fieldSelector watches only the objects it selects (the list must use the same).
   */
  constructor(config: KubeConfig, private readonly answerTimeoutMs: number, private readonly fieldSelector?: string) {
    super(config);
  }

  get open(): boolean {
    return this.current !== undefined;
  }

  override async watch(path: string, queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: Done): Promise<AbortController> {
    let finished = false;
    const finish: Done = (err) => {
      if (finished) return;
      finished = true;
      if (this.current === finish) this.current = undefined;
      done(err);
    };
    const unanswered = setTimeout(() => finish(new Error(`the API server did not answer a watch within ${this.answerTimeoutMs} ms`)), this.answerTimeoutMs);
    let ctl: AbortController;
    try {
      ctl = await super.watch(path, { ...queryParams, allowWatchBookmarks: true, ...(this.fieldSelector ? { fieldSelector: this.fieldSelector } : {}) }, (phase, obj: unknown, raw) => {
        if (finished) return; // a late answer to a request already given up delivers nothing
        this.onEvent(phase, obj as { metadata?: { resourceVersion?: string } } | undefined);
        callback(phase, obj, raw);
      }, finish);
    } finally {
      clearTimeout(unanswered);
    }
    if (finished) {
      // An error answer, or the answer came too late: either way this stream is not the informer's.
      ctl.abort();
    } else {
      this.current = finish;
      this.stream = ctl;
      this.onOpen();
    }
    return ctl;
  }

  /** Ends the open watch as a 410 Gone does, so that its informer lists again; false when none is open. */
  expire(message: string): boolean {
    const f = this.current;
    if (!f) return false;
    f(expired(message));
    // The silent stream is closed too, not left open beside the new one.
    this.stream?.abort();
    this.stream = undefined;
    return true;
  }
}
