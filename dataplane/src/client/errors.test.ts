import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_CODES, IngressfedError } from '@ingressfed/schemas';
import { codeForStatus, DataPlaneError, isRetryableConflict } from './errors.js';

describe('client errors: stable codes for Data Plane API answers', () => {
  it('maps statuses to catalogue codes, telling version conflicts from existing objects', () => {
    assert.equal(codeForStatus(409, 'version mismatch: version in configuration file is 3, given version is 2'), 'INGRESSFED_ERR_DPAPI_VERSION_CONFLICT');
    assert.equal(codeForStatus(409, 'backend b already exists'), 'INGRESSFED_ERR_DPAPI_CONFLICT');
    assert.equal(codeForStatus(406, 'x'), 'INGRESSFED_ERR_DPAPI_TRANSACTION_OUTDATED');
    assert.equal(codeForStatus(400, 'x'), 'INGRESSFED_ERR_DPAPI_INVALID');
    assert.equal(codeForStatus(429, 'x'), 'INGRESSFED_ERR_DPAPI_TOO_MANY_TRANSACTIONS');
    assert.equal(codeForStatus(503, 'x'), 'INGRESSFED_ERR_DPAPI_UNEXPECTED');
  });

  it('is an IngressfedError with code, cause, status and operation', () => {
    const cause = new Error('socket hang up');
    const e = new DataPlaneError('INGRESSFED_ERR_DPAPI_UNREACHABLE', 'commit transaction', 0, 'unreachable', { cause });
    assert.ok(e instanceof IngressfedError);
    assert.equal(e.cause, cause);
    assert.equal(e.status, ERROR_CODES.INGRESSFED_ERR_DPAPI_UNREACHABLE.status);
    assert.equal(e.message, 'commit transaction: unreachable');
    assert.equal(e.name, 'DataPlaneError');
  });

  it('retries only version conflicts and outdated transactions', () => {
    assert.ok(isRetryableConflict(new DataPlaneError('INGRESSFED_ERR_DPAPI_VERSION_CONFLICT', 'x', 409, 'm')));
    assert.ok(isRetryableConflict(new DataPlaneError('INGRESSFED_ERR_DPAPI_TRANSACTION_OUTDATED', 'x', 406, 'm')));
    assert.ok(!isRetryableConflict(new DataPlaneError('INGRESSFED_ERR_DPAPI_INVALID', 'x', 400, 'm')));
    assert.ok(!isRetryableConflict(new Error('x')));
  });
});
