// @ingressfed/dataplane: the typed HAProxy Data Plane API v3 client.
// The local Data Plane API server is exposed separately as `@ingressfed/dataplane/local`.
export type { components, paths, operations } from './gen/dataplane-api.js';
export type {
  DataPlaneTarget,
  MapEntry,
  MapFile,
  Reload,
  RuntimeServer,
  Schemas,
  Transaction,
  TransactionOptions,
  TransactionOutcome,
  TransactionScope,
} from './client/client.js';
export type { SslCertificate, SslCrtListFile, StorageApplied, StorageWrite, StorageWriteOptions } from './client/storage.js';
export { DataPlaneClient } from './client/client.js';
export { DataPlaneError, WriteRefusedError, codeForStatus, isRetryableConflict } from './client/errors.js';
