import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from './api-error.js';
import { emptyModel } from './model.js';
import * as r from './resources.js';

const servers: r.NamedChild = { kind: 'backends', key: 'servers', label: 'server' };
const acls: r.ListChild = { kind: 'frontends', key: 'acl_list', label: 'acl' };

const status = (fn: () => unknown): number => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    throw err;
  }
  return 0;
};

describe('resources: operations on the configuration model', () => {
  it('creates, reads, replaces and deletes sections with dataplaneapi statuses', () => {
    const m = emptyModel();
    r.createSection(m, 'backends', { name: 'b', mode: 'http' }, false);
    assert.equal(status(() => r.createSection(m, 'backends', { name: 'b' }, false)), 409);
    assert.equal(status(() => r.getSection(m, 'backends', 'x', false)), 404);
    assert.equal(status(() => r.replaceSection(m, 'backends', 'b', { name: 'c' }, false)), 400);
    r.deleteSection(m, 'backends', 'b');
    assert.equal(status(() => r.deleteSection(m, 'backends', 'b')), 404);
  });

  it('keeps children when a section is replaced without full_section, and replaces them with it', () => {
    const m = emptyModel();
    r.createSection(m, 'backends', { name: 'b' }, false);
    r.createNamed(m, servers, 'b', { name: 's1', address: '10.0.0.1' });
    r.replaceSection(m, 'backends', 'b', { name: 'b', mode: 'tcp' }, false);
    assert.equal(r.listNamed(m, servers, 'b').length, 1);
    assert.equal(r.getSection(m, 'backends', 'b', false).servers, undefined, 'base view hides children');
    r.replaceSection(m, 'backends', 'b', { name: 'b', servers: {} }, true);
    assert.equal(r.listNamed(m, servers, 'b').length, 0);
  });

  it('answers 400 for a child created under a missing parent, 404 for reads of it', () => {
    const m = emptyModel();
    assert.equal(status(() => r.createNamed(m, servers, 'nope', { name: 's' })), 400);
    assert.equal(status(() => r.getNamed(m, servers, 'nope', 's')), 404);
    assert.equal(status(() => r.insertListItem(m, acls, 'nope', 0, { acl_name: 'a', criterion: 'path' })), 400);
  });

  it('inserts, replaces and deletes list items by index, refusing indexes out of range', () => {
    const m = emptyModel();
    r.createSection(m, 'frontends', { name: 'f' }, false);
    r.insertListItem(m, acls, 'f', 0, { acl_name: 'b', criterion: 'path' });
    r.insertListItem(m, acls, 'f', 0, { acl_name: 'a', criterion: 'path' });
    assert.deepEqual(r.getList(m, acls, 'f').map((a) => a.acl_name), ['a', 'b']);
    assert.equal(status(() => r.insertListItem(m, acls, 'f', 3, { acl_name: 'c', criterion: 'path' })), 400);
    assert.equal(status(() => r.replaceListItem(m, acls, 'f', 2, { acl_name: 'c', criterion: 'path' })), 400);
    assert.equal(status(() => r.getListItem(m, acls, 'f', 5)), 404);
    r.deleteListItem(m, acls, 'f', 0);
    assert.deepEqual(r.getList(m, acls, 'f', (o) => o.acl_name === 'b').map((a) => a.acl_name), ['b']);
  });

  it('never hands out references into the model', () => {
    const m = emptyModel();
    r.createSection(m, 'backends', { name: 'b' }, false);
    const view = r.getSection(m, 'backends', 'b', true);
    view.name = 'mutated';
    assert.equal(r.getSection(m, 'backends', 'b', false).name, 'b');
  });
});
