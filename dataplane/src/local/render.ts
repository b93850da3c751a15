import type { ConfigModel } from './model.js';

// Renders the configuration model as haproxy.cfg. Field values are written the way client-native
// writes them: verbatim, free text included (a client that needs quotes sends them). Every string
// reaching this module has already been refused if it held a control character.

type Obj = Record<string, unknown>;

/** Fields the renderer understands, per schema. A write using any other field is refused with 501. */
export const SUPPORTED_FIELDS: Record<string, readonly string[]> = {
  frontend: ['name', 'mode', 'default_backend', 'maxconn', 'httplog', 'client_timeout', 'http_request_timeout',
    'http_keep_alive_timeout', 'http_connection_mode', 'forwardfor', 'description', 'metadata', 'disabled', 'enabled',
    'binds', 'acl_list', 'backend_switching_rule_list', 'http_request_rule_list'],
  backend: ['name', 'mode', 'balance', 'default_server', 'adv_check', 'httpchk_params', 'check_timeout', 'connect_timeout',
    'server_timeout', 'queue_timeout', 'retries', 'retry_on', 'redispatch', 'allbackups', 'forwardfor',
    'http_connection_mode', 'http_reuse', 'description', 'metadata', 'disabled', 'enabled',
    'servers', 'acl_list', 'http_request_rule_list', 'http_check_list'],
  bind: ['name', 'address', 'port', 'v4v6', 'metadata', 'ssl', 'ssl_certificate', 'crt_list', 'alpn', 'strict_sni'],
  server: ['name', 'address', 'port', 'id', 'metadata', 'backup', 'check', 'maintenance', 'weight', 'inter', 'fastinter',
    'downinter', 'rise', 'fall', 'observe', 'on-error', 'init-addr', 'slowstart', 'maxconn', 'health_check_port',
    'error_limit', 'on-marked-down', 'on-marked-up'],
  acl: ['acl_name', 'criterion', 'value', 'metadata'],
  backend_switching_rule: ['name', 'cond', 'cond_test', 'metadata'],
  http_request_rule: ['type', 'cond', 'cond_test', 'return_status_code', 'return_content', 'return_content_type',
    'return_content_format', 'hdr_name', 'hdr_format', 'deny_status', 'redir_type', 'redir_value', 'redir_code',
    'path_fmt', 'var_scope', 'var_name', 'var_expr', 'normalizer', 'normalizer_full', 'normalizer_strict', 'metadata'],
  http_check: ['type', 'method', 'uri', 'version', 'headers', 'body', 'match', 'pattern', 'exclamation_mark', 'addr',
    'port', 'check_comment', 'metadata'],
};

export const SUPPORTED_HTTP_REQUEST_TYPES = ['allow', 'deny', 'return', 'set-header', 'add-header', 'del-header',
  'redirect', 'set-path', 'set-var', 'normalize-uri'] as const;
export const SUPPORTED_HTTP_CHECK_TYPES = ['send', 'expect', 'connect', 'disable-on-404', 'comment'] as const;

/** Names the fields of `obj` this renderer cannot write, as `schema.field` (nested objects included). */
export function unsupportedFields(schema: string, obj: Obj): string[] {
  const allowed = SUPPORTED_FIELDS[schema];
  if (!allowed) return [`${schema}`];
  const out = Object.keys(obj).filter((k) => !allowed.includes(k)).map((k) => `${schema}.${k}`);
  const nested: Array<[string, string]> = schema === 'frontend'
    ? [['binds', 'bind'], ['acl_list', 'acl'], ['backend_switching_rule_list', 'backend_switching_rule'], ['http_request_rule_list', 'http_request_rule']]
    : schema === 'backend'
      ? [['servers', 'server'], ['acl_list', 'acl'], ['http_request_rule_list', 'http_request_rule'], ['http_check_list', 'http_check']]
      : [];
  for (const [key, child] of nested) {
    const v = obj[key];
    const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
    for (const item of items) out.push(...unsupportedFields(child, item as Obj));
  }
  if (schema === 'backend' && obj.default_server && typeof obj.default_server === 'object') {
    const ds = obj.default_server as Obj;
    out.push(...unsupportedFields('server', { ...ds, name: 'x' }).map((f) => f.replace(/^server\./, 'backend.default_server.')));
  }
  if (schema === 'backend' && obj.adv_check !== undefined && obj.adv_check !== 'httpchk') out.push(`backend.adv_check=${String(obj.adv_check)}`);
  if (schema === 'http_request_rule' && !(SUPPORTED_HTTP_REQUEST_TYPES as readonly string[]).includes(String(obj.type))) {
    out.push(`http_request_rule.type=${String(obj.type)}`);
  }
  if (schema === 'http_check' && !(SUPPORTED_HTTP_CHECK_TYPES as readonly string[]).includes(String(obj.type))) {
    out.push(`http_check.type=${String(obj.type)}`);
  }
  return out;
}

/** Fields a rule type cannot be written without (the spec's `x-dependency` marks them required). */
const REQUIRED_BY_TYPE: Record<string, readonly string[]> = { 'set-var': ['var_scope', 'var_name', 'var_expr'], 'normalize-uri': ['normalizer'] };

/** Names the fields an http-request rule (alone or in a section's list) lacks for its type, as `http_request_rule.field`. */
export function missingFields(schema: string, obj: Obj): string[] {
  const rules = schema === 'http_request_rule' ? [obj] : (obj.http_request_rule_list as Obj[] | undefined) ?? [];
  return rules.flatMap((r) => (REQUIRED_BY_TYPE[String(r.type)] ?? [])
    .filter((f) => typeof r[f] !== 'string' || r[f] === '')
    .map((f) => `http_request_rule.${f} (required by type ${String(r.type)})`));
}

/**
 * Bind fields written as one word of the bind line that the spec leaves without a pattern: a space
 * in them would add bind options of its own.
 */
const ONE_WORD_BIND_FIELDS = ['crt_list'] as const;

/** Names the bind fields (of a bind, or of a frontend's binds) that are not one word, as `bind.field (must be one word)`. */
export function multiWordFields(schema: string, obj: Obj): string[] {
  const binds = schema === 'bind' ? [obj] : schema === 'frontend' ? Object.values((obj.binds as Obj | undefined) ?? {}) as Obj[] : [];
  return binds.flatMap((b) => ONE_WORD_BIND_FIELDS
    .filter((f) => typeof b[f] === 'string' && !/^\S+$/.test(String(b[f])))
    .map((f) => `bind.${f} (must be one word)`));
}

export interface RenderOptions {
  version: number;
  statsSocket: string;
  /** Extra lines for the global section, e.g. hard-stop-after. */
  globalLines?: readonly string[];
  /** HTTP logs of every request to HAProxy's stderr (for investigations). */
  httpLog?: boolean;
}

export function renderConfig(model: ConfigModel, opts: RenderOptions): string {
  const out: string[] = [`# _version=${opts.version}`, '# Managed by the ingressfed local Data Plane API server. Do not edit by hand.', ''];
  out.push('global');
  out.push(`    stats socket ${opts.statsSocket} mode 600 level admin expose-fd listeners`);
  for (const l of opts.globalLines ?? []) out.push(`    ${l}`);
  if (opts.httpLog) out.push('    log stderr format raw local0 info');
  out.push('', 'defaults');
  if (opts.httpLog) out.push('    log global', '    option httplog');
  for (const l of ['mode http', 'timeout connect 5s', 'timeout client 30s', 'timeout server 30s', 'timeout http-request 10s',
    'timeout http-keep-alive 10s', 'timeout queue 5s']) out.push(`    ${l}`);
  for (const f of model.frontends) out.push('', ...renderFrontend(f as Obj));
  for (const b of model.backends) out.push('', ...renderBackend(b as Obj));
  out.push('');
  return out.join('\n');
}

const ind = (l: string): string => `    ${l}`;
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

function renderCommonProxy(p: Obj, lines: string[]): void {
  if (typeof p.description === 'string' && p.description !== '') lines.push(ind(`description ${p.description}`));
  if (p.disabled === true) lines.push(ind('disabled'));
  if (typeof p.mode === 'string') lines.push(ind(`mode ${p.mode}`));
  if (p.http_connection_mode === 'httpclose') lines.push(ind('option httpclose'));
  if (p.http_connection_mode === 'http-server-close') lines.push(ind('option http-server-close'));
  if (p.http_connection_mode === 'http-keep-alive') lines.push(ind('option http-keep-alive'));
  const ff = p.forwardfor as Obj | undefined;
  if (ff && ff.enabled === 'enabled') {
    let l = 'option forwardfor';
    if (typeof ff.except === 'string') l += ` except ${ff.except}`;
    if (typeof ff.header === 'string') l += ` header ${ff.header}`;
    if (ff.ifnone === true) l += ' if-none';
    lines.push(ind(l));
  }
}

function renderFrontend(f: Obj): string[] {
  const lines = [`frontend ${String(f.name)}`];
  renderCommonProxy(f, lines);
  if (isSet(f.maxconn)) lines.push(ind(`maxconn ${String(f.maxconn)}`));
  if (f.httplog === true) lines.push(ind('option httplog'));
  if (isSet(f.client_timeout)) lines.push(ind(`timeout client ${String(f.client_timeout)}`));
  if (isSet(f.http_request_timeout)) lines.push(ind(`timeout http-request ${String(f.http_request_timeout)}`));
  if (isSet(f.http_keep_alive_timeout)) lines.push(ind(`timeout http-keep-alive ${String(f.http_keep_alive_timeout)}`));
  for (const b of Object.values((f.binds as Obj | undefined) ?? {})) lines.push(ind(renderBind(b as Obj)));
  for (const a of (f.acl_list as Obj[] | undefined) ?? []) lines.push(ind(renderAcl(a)));
  for (const r of (f.http_request_rule_list as Obj[] | undefined) ?? []) lines.push(ind(renderHttpRequestRule(r)));
  for (const r of (f.backend_switching_rule_list as Obj[] | undefined) ?? []) {
    lines.push(ind(`use_backend ${String(r.name)}${renderCond(r)}`));
  }
  if (typeof f.default_backend === 'string') lines.push(ind(`default_backend ${f.default_backend}`));
  return lines;
}

function hostPort(address: string, port: unknown): string {
  const a = address.includes(':') && !address.startsWith('[') ? `ipv6@${address}` : address;
  return isSet(port) ? `${a}:${String(port)}` : a;
}

function renderBind(b: Obj): string {
  let l = `bind ${hostPort(String(b.address ?? '*'), b.port)} name ${String(b.name)}`;
  if (b.v4v6 === true) l += ' v4v6';
  if (b.ssl === true) l += ' ssl';
  if (typeof b.ssl_certificate === 'string') l += ` crt ${b.ssl_certificate}`;
  if (typeof b.crt_list === 'string') l += ` crt-list ${b.crt_list}`;
  if (typeof b.alpn === 'string') l += ` alpn ${b.alpn}`;
  if (b.strict_sni === true) l += ' strict-sni';
  return l;
}

function renderAcl(a: Obj): string {
  const value = typeof a.value === 'string' && a.value !== '' ? ` ${a.value}` : '';
  return `acl ${String(a.acl_name)} ${String(a.criterion)}${value}`;
}

function renderCond(r: Obj): string {
  return typeof r.cond === 'string' && typeof r.cond_test === 'string' ? ` ${r.cond} ${r.cond_test}` : '';
}

function renderHttpRequestRule(r: Obj): string {
  const cond = renderCond(r);
  switch (r.type) {
    case 'allow':
      return `http-request allow${cond}`;
    case 'deny':
      return `http-request deny${isSet(r.deny_status) ? ` deny_status ${String(r.deny_status)}` : ''}${cond}`;
    case 'return': {
      let l = 'http-request return';
      if (isSet(r.return_status_code)) l += ` status ${String(r.return_status_code)}`;
      if (typeof r.return_content_type === 'string') l += ` content-type ${r.return_content_type}`;
      if (typeof r.return_content_format === 'string' && typeof r.return_content === 'string') {
        l += ` ${r.return_content_format} ${r.return_content}`;
      }
      return l + cond;
    }
    case 'set-header':
    case 'add-header':
      return `http-request ${r.type} ${String(r.hdr_name)} ${String(r.hdr_format ?? '')}${cond}`;
    case 'del-header':
      return `http-request del-header ${String(r.hdr_name)}${cond}`;
    case 'redirect': {
      let l = `http-request redirect ${String(r.redir_type)} ${String(r.redir_value)}`;
      if (isSet(r.redir_code)) l += ` code ${String(r.redir_code)}`;
      return l + cond;
    }
    case 'set-path':
      return `http-request set-path ${String(r.path_fmt)}${cond}`;
    case 'set-var':
      return `http-request set-var(${String(r.var_scope)}.${String(r.var_name)}) ${String(r.var_expr)}${cond}`;
    case 'normalize-uri':
      // `full` and `strict` only when set: HAProxy refuses them after the normalizers that have no such option.
      return `http-request normalize-uri ${String(r.normalizer)}${r.normalizer_full === true ? ' full' : ''}${r.normalizer_strict === true ? ' strict' : ''}${cond}`;
    default:
      throw new Error(`unsupported http-request rule type ${String(r.type)}`);
  }
}

const SERVER_FLAGS: Array<[string, (v: unknown) => string | undefined]> = [
  ['backup', (v) => (v === 'enabled' ? 'backup' : undefined)],
  ['check', (v) => (v === 'enabled' ? 'check' : v === 'disabled' ? 'no-check' : undefined)],
  ['maintenance', (v) => (v === 'enabled' ? 'disabled' : v === 'disabled' ? 'enabled' : undefined)],
  ['weight', (v) => (isSet(v) ? `weight ${String(v)}` : undefined)],
  ['inter', (v) => (isSet(v) ? `inter ${String(v)}` : undefined)],
  ['fastinter', (v) => (isSet(v) ? `fastinter ${String(v)}` : undefined)],
  ['downinter', (v) => (isSet(v) ? `downinter ${String(v)}` : undefined)],
  ['rise', (v) => (isSet(v) ? `rise ${String(v)}` : undefined)],
  ['fall', (v) => (isSet(v) ? `fall ${String(v)}` : undefined)],
  ['observe', (v) => (isSet(v) ? `observe ${String(v)}` : undefined)],
  ['on-error', (v) => (isSet(v) ? `on-error ${String(v)}` : undefined)],
  ['error_limit', (v) => (isSet(v) ? `error-limit ${String(v)}` : undefined)],
  ['on-marked-down', (v) => (isSet(v) ? `on-marked-down ${String(v)}` : undefined)],
  ['on-marked-up', (v) => (isSet(v) ? `on-marked-up ${String(v)}` : undefined)],
  ['init-addr', (v) => (isSet(v) ? `init-addr ${String(v)}` : undefined)],
  ['slowstart', (v) => (isSet(v) ? `slowstart ${String(v)}` : undefined)],
  ['maxconn', (v) => (isSet(v) ? `maxconn ${String(v)}` : undefined)],
  ['health_check_port', (v) => (isSet(v) ? `port ${String(v)}` : undefined)],
  ['id', (v) => (isSet(v) ? `id ${String(v)}` : undefined)],
];

function renderServerParams(s: Obj): string {
  const words: string[] = [];
  for (const [k, f] of SERVER_FLAGS) {
    const w = f(s[k]);
    if (w !== undefined) words.push(w);
  }
  return words.join(' ');
}

function renderBackend(b: Obj): string[] {
  const lines = [`backend ${String(b.name)}`];
  renderCommonProxy(b, lines);
  const bal = b.balance as Obj | undefined;
  if (bal && typeof bal.algorithm === 'string') lines.push(ind(`balance ${bal.algorithm}`));
  if (b.adv_check === 'httpchk') {
    const p = (b.httpchk_params as Obj | undefined) ?? {};
    const args = [p.method, p.uri, p.version].filter((x): x is string => typeof x === 'string');
    lines.push(ind(`option httpchk${args.length ? ' ' + args.join(' ') : ''}`));
  }
  for (const c of (b.http_check_list as Obj[] | undefined) ?? []) lines.push(ind(renderHttpCheck(c)));
  if (b.allbackups === 'enabled') lines.push(ind('option allbackups'));
  const rd = b.redispatch as Obj | undefined;
  if (rd && rd.enabled === 'enabled') lines.push(ind(`option redispatch${isSet(rd.interval) ? ` ${String(rd.interval)}` : ''}`));
  if (rd && rd.enabled === 'disabled') lines.push(ind('no option redispatch'));
  if (isSet(b.retries)) lines.push(ind(`retries ${String(b.retries)}`));
  if (typeof b.retry_on === 'string') lines.push(ind(`retry-on ${b.retry_on}`));
  if (typeof b.http_reuse === 'string') lines.push(ind(`http-reuse ${b.http_reuse}`));
  if (isSet(b.connect_timeout)) lines.push(ind(`timeout connect ${String(b.connect_timeout)}`));
  if (isSet(b.server_timeout)) lines.push(ind(`timeout server ${String(b.server_timeout)}`));
  if (isSet(b.check_timeout)) lines.push(ind(`timeout check ${String(b.check_timeout)}`));
  if (isSet(b.queue_timeout)) lines.push(ind(`timeout queue ${String(b.queue_timeout)}`));
  for (const a of (b.acl_list as Obj[] | undefined) ?? []) lines.push(ind(renderAcl(a)));
  for (const r of (b.http_request_rule_list as Obj[] | undefined) ?? []) lines.push(ind(renderHttpRequestRule(r)));
  if (b.default_server && typeof b.default_server === 'object') {
    const params = renderServerParams(b.default_server as Obj);
    if (params) lines.push(ind(`default-server ${params}`));
  }
  for (const s of Object.values((b.servers as Obj | undefined) ?? {})) {
    const srv = s as Obj;
    const params = renderServerParams(srv);
    lines.push(ind(`server ${String(srv.name)} ${hostPort(String(srv.address), srv.port)}${params ? ' ' + params : ''}`));
  }
  return lines;
}

function renderHttpCheck(c: Obj): string {
  switch (c.type) {
    case 'send': {
      let l = 'http-check send';
      if (typeof c.method === 'string') l += ` meth ${c.method}`;
      if (typeof c.uri === 'string') l += ` uri ${c.uri}`;
      if (typeof c.version === 'string') l += ` ver ${c.version}`;
      for (const h of (c.headers as Obj[] | undefined) ?? []) l += ` hdr ${String(h.name)} ${String(h.fmt ?? '')}`;
      if (typeof c.body === 'string') l += ` body ${c.body}`;
      return l;
    }
    case 'expect':
      return `http-check expect ${c.exclamation_mark === true ? '! ' : ''}${String(c.match)} ${String(c.pattern ?? '')}`;
    case 'connect': {
      let l = 'http-check connect';
      if (typeof c.addr === 'string') l += ` addr ${c.addr}`;
      if (isSet(c.port)) l += ` port ${String(c.port)}`;
      return l;
    }
    case 'disable-on-404':
      return 'http-check disable-on-404';
    case 'comment':
      return `http-check comment ${String(c.check_comment ?? '')}`;
    default:
      throw new Error(`unsupported http-check type ${String(c.type)}`);
  }
}
