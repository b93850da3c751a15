import { badRequest, conflict, notFound } from './api-error.js';
import type { ConfigModel } from './model.js';

// Pure operations on the configuration model, one per kind of resource the API exposes. Each takes
// the model it may change (a copy from cloneModel: its section lists are its own, its sections are
// shared) and throws an ApiError with the status dataplaneapi answers for the same situation. A
// section is never changed in place: it is replaced by a changed copy (editSection).

export type SectionKind = 'frontends' | 'backends';
type Obj = Record<string, unknown>;

/** Child keys of a section's `full_section` form; everything else is the section's own fields. */
const CHILD_KEYS: Record<SectionKind, readonly string[]> = {
  frontends: ['acl_list', 'backend_switching_rule_list', 'binds', 'capture_list', 'filter_list', 'filter_sequence_list',
    'force_be_switch_list', 'http_after_response_rule_list', 'http_error_rule_list', 'http_request_rule_list',
    'http_response_rule_list', 'log_target_list', 'quic_initial_rule_list', 'ssl_front_use_list', 'tcp_request_rule_list'],
  backends: ['acl_list', 'filter_list', 'filter_sequence_list', 'http_after_response_rule_list', 'http_check_list',
    'http_error_rule_list', 'http_request_rule_list', 'http_response_rule_list', 'log_target_list',
    'server_switching_rule_list', 'server_templates', 'servers', 'stick_rule_list', 'tcp_check_rule_list',
    'tcp_request_rule_list', 'tcp_response_rule_list'],
};

const SINGULAR: Record<SectionKind, string> = { frontends: 'frontend', backends: 'backend' };

function sections(model: ConfigModel, kind: SectionKind): Obj[] {
  return model[kind] as Obj[];
}

function baseOf(kind: SectionKind, section: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(section)) if (!CHILD_KEYS[kind].includes(k)) out[k] = v;
  return out;
}

function view(kind: SectionKind, section: Obj, full: boolean): Obj {
  return full ? structuredClone(section) : structuredClone(baseOf(kind, section));
}

export function findSection(model: ConfigModel, kind: SectionKind, name: string): Obj | undefined {
  return sections(model, kind).find((s) => s.name === name);
}

function mustFindSection(model: ConfigModel, kind: SectionKind, name: string, status: 400 | 404 = 404): Obj {
  const s = findSection(model, kind, name);
  if (!s) {
    const msg = `${SINGULAR[kind]} ${name} does not exist`;
    throw status === 404 ? notFound(msg) : badRequest(msg);
  }
  return s;
}

/** A copy of a section put in its place in `model`'s own list, to change. */
function editSection(model: ConfigModel, kind: SectionKind, name: string, status: 400 | 404 = 404): Obj {
  const list = sections(model, kind);
  const i = list.findIndex((s) => s.name === name);
  if (i < 0) mustFindSection(model, kind, name, status);
  const copy = structuredClone(list[i] as Obj);
  list[i] = copy;
  return copy;
}

// ---- sections (frontends, backends) -------------------------------------------------------------

export function listSections(model: ConfigModel, kind: SectionKind, full: boolean): Obj[] {
  return sections(model, kind).map((s) => view(kind, s, full));
}

export function getSection(model: ConfigModel, kind: SectionKind, name: string, full: boolean): Obj {
  return view(kind, mustFindSection(model, kind, name), full);
}

export function createSection(model: ConfigModel, kind: SectionKind, body: Obj, full: boolean): Obj {
  const name = String(body.name);
  if (findSection(model, kind, name)) throw conflict(`${SINGULAR[kind]} ${name} already exists`);
  const section = full ? structuredClone(body) : baseOf(kind, structuredClone(body));
  sections(model, kind).push(section);
  return view(kind, section, full);
}

export function replaceSection(model: ConfigModel, kind: SectionKind, name: string, body: Obj, full: boolean): Obj {
  const list = sections(model, kind);
  const i = list.findIndex((s) => s.name === name);
  if (i < 0) throw notFound(`${SINGULAR[kind]} ${name} does not exist`);
  if (body.name !== name) throw badRequest(`the name in the body (${String(body.name)}) does not match the path (${name})`);
  const old = list[i] as Obj;
  const next = full ? structuredClone(body) : { ...baseOf(kind, structuredClone(body)), ...childrenOf(kind, old) };
  list[i] = next;
  return view(kind, next, full);
}

function childrenOf(kind: SectionKind, section: Obj): Obj {
  const out: Obj = {};
  for (const k of CHILD_KEYS[kind]) if (section[k] !== undefined) out[k] = section[k];
  return out;
}

export function deleteSection(model: ConfigModel, kind: SectionKind, name: string): void {
  const list = sections(model, kind);
  const i = list.findIndex((s) => s.name === name);
  if (i < 0) throw notFound(`${SINGULAR[kind]} ${name} does not exist`);
  list.splice(i, 1);
}

// ---- named children (binds, servers): a map by name inside the section --------------------------

export interface NamedChild {
  kind: SectionKind;
  key: 'binds' | 'servers';
  label: string;
}

function childMap(section: Obj, key: string): Obj {
  const m = section[key];
  if (m && typeof m === 'object') return m as Obj;
  const fresh: Obj = {};
  section[key] = fresh;
  return fresh;
}

const readChildMap = (section: Obj, key: string): Obj => (section[key] && typeof section[key] === 'object' ? section[key] as Obj : {});

export function listNamed(model: ConfigModel, c: NamedChild, parent: string): Obj[] {
  const section = mustFindSection(model, c.kind, parent);
  return Object.values(readChildMap(section, c.key)).map((v) => structuredClone(v as Obj));
}

export function getNamed(model: ConfigModel, c: NamedChild, parent: string, name: string): Obj {
  const v = readChildMap(mustFindSection(model, c.kind, parent), c.key)[name];
  if (!v) throw notFound(`${c.label} ${name} does not exist in ${SINGULAR[c.kind]} ${parent}`);
  return structuredClone(v as Obj);
}

export function createNamed(model: ConfigModel, c: NamedChild, parent: string, body: Obj): Obj {
  const map = childMap(editSection(model, c.kind, parent, 400), c.key);
  const name = String(body.name);
  if (map[name]) throw conflict(`${c.label} ${name} already exists in ${SINGULAR[c.kind]} ${parent}`);
  map[name] = structuredClone(body);
  return structuredClone(body);
}

export function replaceNamed(model: ConfigModel, c: NamedChild, parent: string, name: string, body: Obj): Obj {
  const map = childMap(editSection(model, c.kind, parent), c.key);
  if (!map[name]) throw notFound(`${c.label} ${name} does not exist in ${SINGULAR[c.kind]} ${parent}`);
  if (body.name !== name) throw badRequest(`the name in the body (${String(body.name)}) does not match the path (${name})`);
  map[name] = structuredClone(body);
  return structuredClone(body);
}

export function deleteNamed(model: ConfigModel, c: NamedChild, parent: string, name: string): void {
  const map = childMap(editSection(model, c.kind, parent), c.key);
  if (!map[name]) throw notFound(`${c.label} ${name} does not exist in ${SINGULAR[c.kind]} ${parent}`);
  delete map[name];
}

// ---- indexed lists (ACLs, switching rules, http-request rules, http checks) ----------------------

export interface ListChild {
  kind: SectionKind;
  key: 'acl_list' | 'backend_switching_rule_list' | 'http_request_rule_list' | 'http_check_list';
  label: string;
}

function list(section: Obj, key: string): Obj[] {
  const l = section[key];
  if (Array.isArray(l)) return l as Obj[];
  const fresh: Obj[] = [];
  section[key] = fresh;
  return fresh;
}

const readList = (section: Obj, key: string): Obj[] => (Array.isArray(section[key]) ? section[key] as Obj[] : []);

export function getList(model: ConfigModel, c: ListChild, parent: string, filter?: (o: Obj) => boolean): Obj[] {
  const l = readList(mustFindSection(model, c.kind, parent), c.key);
  return structuredClone(filter ? l.filter(filter) : l);
}

export function replaceList(model: ConfigModel, c: ListChild, parent: string, items: Obj[]): Obj[] {
  const section = editSection(model, c.kind, parent);
  section[c.key] = structuredClone(items);
  return structuredClone(items);
}

function checkIndex(c: ListChild, parent: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw notFound(`${c.label} ${index} does not exist in ${SINGULAR[c.kind]} ${parent}`);
  }
}

export function getListItem(model: ConfigModel, c: ListChild, parent: string, index: number): Obj {
  const l = readList(mustFindSection(model, c.kind, parent), c.key);
  checkIndex(c, parent, index, l.length);
  return structuredClone(l[index] as Obj);
}

export function insertListItem(model: ConfigModel, c: ListChild, parent: string, index: number, item: Obj): Obj {
  const l = list(editSection(model, c.kind, parent, 400), c.key);
  if (!Number.isInteger(index) || index < 0 || index > l.length) {
    throw badRequest(`index ${index} is out of range: ${SINGULAR[c.kind]} ${parent} has ${l.length} ${c.label}s`);
  }
  l.splice(index, 0, structuredClone(item));
  return structuredClone(item);
}

export function replaceListItem(model: ConfigModel, c: ListChild, parent: string, index: number, item: Obj): Obj {
  const l = list(editSection(model, c.kind, parent), c.key);
  if (!Number.isInteger(index) || index < 0 || index >= l.length) {
    throw badRequest(`index ${index} is out of range: ${SINGULAR[c.kind]} ${parent} has ${l.length} ${c.label}s`);
  }
  l[index] = structuredClone(item);
  return structuredClone(item);
}

export function deleteListItem(model: ConfigModel, c: ListChild, parent: string, index: number): void {
  const l = list(editSection(model, c.kind, parent), c.key);
  checkIndex(c, parent, index, l.length);
  l.splice(index, 1);
}
