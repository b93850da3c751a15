import { DataPlaneError, WriteRefusedError } from '@ingressfed/dataplane';

/**
 * This hub may not write to the edge: the edge carries a newer fence (`seen`: a newer leader wrote
 * to it, or the fence counter was lost and must be raised past it), or the lease is gone.
 */
export class FencedError extends Error {
  constructor(message: string, readonly seen?: number) {
    super(message);
    this.name = 'FencedError';
  }
}

/**
 * HAProxy refused the configuration planned for an edge (a commit that failed validation, or a
 * failed reload). Terminal for that plan: trying it again cannot succeed. `tried` is false when the
 * plan was not sent again because it had been refused before.
 */
export class RefusedConfigError extends Error {
  constructor(readonly edge: string, readonly refusal: string, readonly tried: boolean, options?: ErrorOptions) {
    super(`edge ${edge}: HAProxy refused the configuration: ${refusal}`, options);
    this.name = 'RefusedConfigError';
  }
}

/**
 * HAProxy accepted the configuration at commit and then failed to load it (a file it names changed
 * after the commit was checked): the edge keeps its last good configuration. Retryable once: the hub
 * reads the edge again, writes its files again and plans anew; the same change failing to load twice
 * is a refusal (RefusedConfigError).
 */
export class ReloadFailedError extends Error {
  constructor(readonly edge: string, readonly failure: string, options?: ErrorOptions) {
    super(`edge ${edge}: HAProxy failed to load the committed configuration and keeps its last good one (${failure}); reading the edge again and planning anew`, options);
    this.name = 'ReloadFailedError';
  }
}

/** HAProxy accepted the configuration at commit, then failed to load it (the Data Plane API's reload failed). */
export function isReloadFailure(err: unknown): boolean {
  return err instanceof DataPlaneError && err.code === 'INGRESSFED_ERR_DPAPI_RELOAD_FAILED';
}

/** The edge's Data Plane API is a version the hub cannot drive. */
export class UnsupportedApiError extends Error {
  constructor(readonly edge: string, readonly version: string, readonly minimum: string) {
    super(`edge ${edge}: the Data Plane API reports version '${version.slice(0, 80)}'; ingressfed needs dataplaneapi v${minimum} or newer within v3 (runtime server address, port and weight)`);
    this.name = 'UnsupportedApiError';
  }
}

/** An apply that ran out of its time limit. */
export class ApplyTimeoutError extends Error {
  constructor(readonly edge: string, readonly limitMs: number) {
    super(`edge ${edge}: apply did not finish within ${limitMs} ms`);
    this.name = 'ApplyTimeoutError';
  }
}

export type ApplyErrorKind = 'fenced' | 'refused' | 'retryable';

/**
 * How the edge loop treats a failed apply: a refusal is terminal for its plan (isolate the cause, do
 * not loop); a fence means another leader writes; everything else (timeouts, unreachable API, 5xx,
 * version races, 429) is retried with backoff.
 */
export function classifyApplyError(err: unknown): ApplyErrorKind {
  if (err instanceof FencedError || err instanceof WriteRefusedError) return 'fenced';
  if (err instanceof RefusedConfigError) return 'refused';
  return 'retryable';
}
