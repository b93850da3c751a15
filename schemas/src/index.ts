export type { ErrorCode } from './errors.js';
export { ERROR_CODES, IngressfedError } from './errors.js';
