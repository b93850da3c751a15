/**
 * An error the local Data Plane API server answers with: the HTTP status and a message, sent as
 * `{code, message}` exactly as dataplaneapi v3.4 does (the body code mirrors the HTTP status).
 */
export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ApiError';
    this.status = status;
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, message);
export const notFound = (message: string): ApiError => new ApiError(404, message);
export const conflict = (message: string): ApiError => new ApiError(409, message);
export const notImplemented = (message: string): ApiError => new ApiError(501, message);
