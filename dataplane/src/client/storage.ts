import type { components } from '../gen/dataplane-api.js';

// Shapes shared by the client's storage methods (certificates and crt-lists): how a write took
// effect, read from the answer the way dataplaneapi v3.4 gives it.

export type SslCertificate = components['schemas']['ssl_certificate'];
export type SslCrtListFile = components['schemas']['ssl_crt_list_file'];

export interface StorageWriteOptions {
  /** Store the file only: nothing is loaded into HAProxy (`skip_reload=true`). */
  skipReload?: boolean;
  /** Reload HAProxy before answering (`force_reload=true`). */
  forceReload?: boolean;
}

/**
 * How a storage write took effect:
 * - `runtime`: live already, through HAProxy's runtime API, without a reload;
 * - `reload`: live once the scheduled reload `reloadId` succeeds (see `waitForReload`);
 * - `reloaded`: HAProxy was reloaded before the answer (`forceReload`);
 * - `stored`: on disk only (`skipReload`); HAProxy loads it at its next reload.
 */
export type StorageApplied = 'runtime' | 'reload' | 'reloaded' | 'stored';

export interface StorageWrite<T> {
  /** The stored file as the Data Plane API describes it (none for deletes). */
  value: T | undefined;
  applied: StorageApplied;
  /** The Reload-ID of a scheduled reload (`applied` is `reload`), else undefined. */
  reloadId: string | undefined;
}

/** The query of a storage write: only the flags that are set, as the API's defaults are false. */
export function storageQuery(opts: StorageWriteOptions): { skip_reload?: boolean; force_reload?: boolean } {
  return { ...(opts.skipReload ? { skip_reload: true } : {}), ...(opts.forceReload ? { force_reload: true } : {}) };
}

/** Reads how a storage write took effect from its answer: a 202 carries the Reload-ID of a scheduled reload. */
export function storageOutcome<T>(value: T | undefined, response: Response, opts: StorageWriteOptions): StorageWrite<T> {
  if (response.status === 202) return { value, applied: 'reload', reloadId: response.headers.get('Reload-ID') ?? undefined };
  const applied: StorageApplied = opts.forceReload ? 'reloaded' : opts.skipReload ? 'stored' : 'runtime';
  return { value, applied, reloadId: undefined };
}

/** A multipart/form-data body with the file in part `file_upload`: its filename becomes the storage name. */
export function uploadForm(name: string, text: string): FormData {
  const form = new FormData();
  form.append('file_upload', new Blob([text], { type: 'text/plain' }), name);
  return form;
}
