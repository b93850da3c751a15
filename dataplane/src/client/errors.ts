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
