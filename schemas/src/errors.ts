/**
 * One catalogue of error codes for every ingressfed package (fastify's `FST_ERR_*` idea). A code is
 * stable: scripts and dashboards may match on it; messages may improve over time.
 */
export const ERROR_CODES = {
  INGRESSFED_ERR_DPAPI_UNREACHABLE: { status: 503, summary: 'the Data Plane API could not be reached' },
  INGRESSFED_ERR_DPAPI_TIMEOUT: { status: 504, summary: 'the Data Plane API did not answer in time' },
  INGRESSFED_ERR_DPAPI_TLS: { status: 502, summary: 'the TLS connection to the Data Plane API failed' },
  INGRESSFED_ERR_DPAPI_UNAUTHORIZED: { status: 401, summary: 'the Data Plane API refused the credentials' },
  INGRESSFED_ERR_DPAPI_VERSION_CONFLICT: { status: 409, summary: 'the configuration version changed underneath' },
  INGRESSFED_ERR_DPAPI_TRANSACTION_OUTDATED: { status: 406, summary: 'the transaction is outdated or failed' },
  INGRESSFED_ERR_DPAPI_INVALID: { status: 400, summary: 'the Data Plane API refused the request or the configuration' },
  INGRESSFED_ERR_DPAPI_NOT_FOUND: { status: 404, summary: 'the Data Plane API object does not exist' },
  INGRESSFED_ERR_DPAPI_CONFLICT: { status: 409, summary: 'the Data Plane API object already exists' },
  INGRESSFED_ERR_DPAPI_TOO_MANY_TRANSACTIONS: { status: 429, summary: 'too many open transactions' },
  INGRESSFED_ERR_DPAPI_RELOAD_FAILED: { status: 502, summary: 'HAProxy refused the new configuration at reload' },
  INGRESSFED_ERR_DPAPI_UNEXPECTED: { status: 502, summary: 'the Data Plane API answered something unexpected' },
  INGRESSFED_ERR_SEAL: { status: 400, summary: 'a sealed private key could not be sealed or opened' },
  INGRESSFED_ERR_API_UNAUTHENTICATED: { status: 401, summary: 'a bearer token is required' },
  INGRESSFED_ERR_API_FORBIDDEN: { status: 403, summary: 'the token does not allow this' },
  INGRESSFED_ERR_API_NOT_FOUND: { status: 404, summary: 'no such object' },
  INGRESSFED_ERR_API_BAD_REQUEST: { status: 400, summary: 'the request is not valid' },
  INGRESSFED_ERR_API_NOT_READY: { status: 503, summary: 'the hub has not read every cluster yet' },
  INGRESSFED_ERR_API_UNAVAILABLE: { status: 503, summary: 'a store the request needs is unavailable' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Base of every typed ingressfed error: a stable `code`, a message for people, and a `cause` chain. */
export class IngressfedError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IngressfedError';
    this.code = code;
  }

  /** The HTTP status an API should answer with for this error. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}
