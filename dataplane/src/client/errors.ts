import { IngressfedError, type ErrorCode } from '@ingressfed/schemas';

/** A Data Plane API call that failed: the stable code, the HTTP status (0 when none) and the operation. */
export class DataPlaneError extends IngressfedError {
  readonly httpStatus: number;
  readonly operation: string;

  constructor(code: ErrorCode, operation: string, httpStatus: number, message: string, options?: ErrorOptions) {
    super(code, `${operation}: ${message}`, options);
    this.name = 'DataPlaneError';
    this.httpStatus = httpStatus;
    this.operation = operation;
  }
}

/** A write the client's guard refused before it was sent (the writer may not write any more). */
export class WriteRefusedError extends Error {
  constructor(readonly operation: string, reason: string) {
    super(`${operation}: not sent: ${reason}`);
    this.name = 'WriteRefusedError';
  }
}

/** Maps an HTTP error answer of the Data Plane API to its catalogue code. */
export function codeForStatus(status: number, message: string): ErrorCode {
  switch (status) {
    case 400:
    case 422: // a body that fails the API's schema (dataplaneapi v3.4)
      return 'INGRESSFED_ERR_DPAPI_INVALID';
    case 401:
      return 'INGRESSFED_ERR_DPAPI_UNAUTHORIZED';
    case 404:
      return 'INGRESSFED_ERR_DPAPI_NOT_FOUND';
    case 406:
      return 'INGRESSFED_ERR_DPAPI_TRANSACTION_OUTDATED';
    case 409:
      return /version mismatch/i.test(message) ? 'INGRESSFED_ERR_DPAPI_VERSION_CONFLICT' : 'INGRESSFED_ERR_DPAPI_CONFLICT';
    case 429:
      return 'INGRESSFED_ERR_DPAPI_TOO_MANY_TRANSACTIONS';
    default:
      return 'INGRESSFED_ERR_DPAPI_UNEXPECTED';
  }
}

/** True for the answers after which the right move is to re-read the version and plan again. */
export function isRetryableConflict(err: unknown): boolean {
  return err instanceof DataPlaneError &&
    (err.code === 'INGRESSFED_ERR_DPAPI_VERSION_CONFLICT' || err.code === 'INGRESSFED_ERR_DPAPI_TRANSACTION_OUTDATED');
}

// OpenSSL's verification results that mean "this chain does not lead to a CA we trust".
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_REJECTED', 'INVALID_CA',
]);

/**
 * What failed in a TLS connection, from the `cause` of a failed fetch, or undefined when the
 * failure is not about TLS.
 */
export function describeTlsFailure(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : '';
  const detail = `${code}: ${String(cause?.message ?? '').split('\n')[0]?.trim() ?? ''}`;
  if (UNTRUSTED.has(code)) return `certificate not trusted (${detail}): give the edge's caFile, the CA that signs it`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `certificate does not name this host (${detail})`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return `the server does not speak TLS (${code}): it serves plain HTTP, use an http:// url`;
  }
  if (/^(ERR_SSL_|ERR_TLS_|CERT_)/.test(code)) return `TLS failed (${detail})`;
  return undefined;
}

/** Go's net/http (dataplaneapi) answers plain HTTP sent to its HTTPS port with a 400 and this text. */
export const PLAIN_HTTP_TO_HTTPS = /Client sent an HTTP request to an HTTPS server/;
