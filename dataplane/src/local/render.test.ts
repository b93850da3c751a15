import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyModel, type ConfigModel } from './model.js';
import { missingFields, multiWordFields, renderConfig, unsupportedFields } from './render.js';

const opts = { version: 7, statsSocket: '/run/x.sock' };

describe('render: haproxy.cfg from the configuration model', () => {
  it('starts with the version line and the managed global section', () => {
    const text = renderConfig(emptyModel(), opts);
    assert.equal(text.split('\n')[0], '# _version=7');
    assert.match(text, /^global\n {4}stats socket \/run\/x\.sock mode 600 level admin expose-fd listeners$/m);
  });

  it('renders a frontend with binds, ACLs, rules in HAProxy order', () => {
    const model: ConfigModel = {
      frontends: [{
        name: 'fe', mode: 'http', default_backend: 'be_default', forwardfor: { enabled: 'enabled' },
        binds: { http: { name: 'http', address: '127.0.0.1', port: 8080 } },
        acl_list: [{ acl_name: 'h', criterion: 'req.hdr(host)', value: '-m str a.example.com' }],
        http_request_rule_list: [{ type: 'set-header', hdr_name: 'X-Via', hdr_format: 'ingressfed edge' }],
        backend_switching_rule_list: [{ name: 'be_a', cond: 'if', cond_test: 'h' }],
      }],
      backends: [],
    };
    const lines = renderConfig(model, opts).split('\n');
    const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
    assert.ok(at(/^frontend fe$/) >= 0);
    assert.ok(at(/bind 127\.0\.0\.1:8080 name http/) < at(/acl h req\.hdr\(host\) -m str a\.example\.com/));
    assert.ok(at(/http-request set-header X-Via 'ingressfed edge'/) < at(/use_backend be_a if h/));
    assert.ok(at(/use_backend be_a if h/) < at(/default_backend be_default/));
    assert.ok(at(/option forwardfor/) > 0);
  });

  it('renders backends with balance, failover options, default-server and servers', () => {
    const model: ConfigModel = {
      frontends: [],
      backends: [{
        name: 'be', mode: 'http', balance: { algorithm: 'roundrobin' }, allbackups: 'enabled', retries: 3,
        retry_on: 'conn-failure empty-response response-timeout', redispatch: { enabled: 'enabled' },
        adv_check: 'httpchk', httpchk_params: { method: 'GET', uri: '/healthz' },
        default_server: { inter: 1000, fall: 2, rise: 1, observe: 'layer7' },
        servers: {
          p1: { name: 'p1', address: '10.0.0.1', port: 80, weight: 10, check: 'enabled' },
          b1: { name: 'b1', address: '0.0.0.0', port: 1, backup: 'enabled', maintenance: 'enabled' },
        },
      }],
    };
    const text = renderConfig(model, opts);
    for (const re of [/^ {4}balance roundrobin$/m, /^ {4}option allbackups$/m, /^ {4}retries 3$/m,
      /^ {4}retry-on conn-failure empty-response response-timeout$/m, /^ {4}option redispatch$/m,
      /^ {4}option httpchk GET \/healthz$/m, /^ {4}default-server inter 1000 rise 1 fall 2 observe layer7$/m,
      /^ {4}server p1 10\.0\.0\.1:80 check weight 10$/m, /^ {4}server b1 0\.0\.0\.0:1 backup disabled$/m]) {
      assert.match(text, re);
    }
  });

  it('writes free text verbatim, as client-native does: quotes are the writer\'s to add', () => {
    const text = renderConfig({ frontends: [], backends: [{ name: 'nf', mode: 'http', http_request_rule_list: [
      { type: 'return', return_status_code: 404, return_content_type: 'text/plain', return_content_format: 'string', return_content: '"no route"' },
    ] }] } as never, opts);
    assert.match(text, /^ {4}http-request return status 404 content-type text\/plain string "no route"$/m);
  });

  it('renders http-request set-var rules, and use_backend to a variable as written', () => {
    const model: ConfigModel = {
      frontends: [{
        name: 'fe', mode: 'http',
        http_request_rule_list: [
          { type: 'set-var', var_scope: 'txn', var_name: 'b', var_expr: 'path,map_beg(/m/routes.map)' },
          { type: 'set-var', var_scope: 'txn', var_name: 'b', var_expr: 'str(be_default)', cond: 'unless', cond_test: '{ var(txn.b) -m found }' },
        ],
        backend_switching_rule_list: [{ name: '%[var(txn.b)]', cond: 'if', cond_test: '{ var(txn.b) -m found }' }],
      }],
      backends: [],
    };
    const text = renderConfig(model, opts);
    assert.match(text, /^ {4}http-request set-var\(txn\.b\) path,map_beg\(\/m\/routes\.map\)$/m);
    assert.match(text, /^ {4}http-request set-var\(txn\.b\) str\(be_default\) unless \{ var\(txn\.b\) -m found \}$/m);
    assert.match(text, /^ {4}use_backend %\[var\(txn\.b\)\] if \{ var\(txn\.b\) -m found \}$/m);
  });

  it('renders normalize-uri rules with their options, and allows the experimental directive when asked', () => {
    const text = renderConfig({ frontends: [{ name: 'fe', mode: 'http', http_request_rule_list: [
      { type: 'normalize-uri', normalizer: 'path-merge-slashes' },
      { type: 'normalize-uri', normalizer: 'path-strip-dotdot', normalizer_full: true },
      { type: 'normalize-uri', normalizer: 'percent-to-uppercase', normalizer_strict: true },
    ] }], backends: [] }, { ...opts, globalLines: ['expose-experimental-directives'] });
    assert.match(text, /^global\n.*\n {4}expose-experimental-directives$/m);
    assert.match(text, /^ {4}http-request normalize-uri path-merge-slashes\n {4}http-request normalize-uri path-strip-dotdot full\n {4}http-request normalize-uri percent-to-uppercase strict$/m);
    assert.deepEqual(missingFields('http_request_rule', { type: 'normalize-uri' }), ['http_request_rule.normalizer (required by type normalize-uri)']);
    assert.deepEqual(unsupportedFields('http_request_rule', { type: 'normalize-uri', normalizer: 'path-strip-dot' }), []);
  });

  it('names the fields a set-var rule lacks, alone or in a section', () => {
    assert.deepEqual(missingFields('http_request_rule', { type: 'set-var', var_scope: 'txn', var_name: 'b', var_expr: 'path' }), []);
    assert.deepEqual(missingFields('http_request_rule', { type: 'set-var', var_scope: 'txn', var_name: '' }),
      ['http_request_rule.var_name (required by type set-var)', 'http_request_rule.var_expr (required by type set-var)']);
    assert.deepEqual(missingFields('frontend', { name: 'f', http_request_rule_list: [{ type: 'set-var', var_name: 'b', var_expr: 'path' }] }),
      ['http_request_rule.var_scope (required by type set-var)']);
    assert.deepEqual(missingFields('http_request_rule', { type: 'allow' }), []);
  });

  it('names every field it cannot render, nested ones included', () => {
    assert.deepEqual(unsupportedFields('backend', { name: 'b', cookie: { name: 'x' } }), ['backend.cookie']);
    assert.deepEqual(unsupportedFields('frontend', { name: 'f', binds: { s: { name: 's', ssl: true, ssl_cafile: '/ca.pem' } } }), ['bind.ssl_cafile']);
    assert.deepEqual(unsupportedFields('http_request_rule', { type: 'lua' }), ['http_request_rule.type=lua']);
    assert.deepEqual(unsupportedFields('backend', { name: 'b', adv_check: 'tcp-check' }), ['backend.adv_check=tcp-check']);
    assert.deepEqual(unsupportedFields('server', { name: 's', address: '1.2.3.4', weight: 3 }), []);
  });

  it('renders TLS binds: ssl, crt, crt-list, alpn and strict-sni after the address and name', () => {
    const text = renderConfig({ frontends: [{ name: 'fe', mode: 'http', binds: {
      https: { name: 'https', address: '127.0.0.1', port: 8443, ssl: true, crt_list: '/s/edge.crtlist', alpn: 'h2,http/1.1', strict_sni: true },
      one: { name: 'one', address: '127.0.0.1', port: 9443, ssl: true, ssl_certificate: '/s/a.pem' },
      plain: { name: 'plain', address: '127.0.0.1', port: 8080, ssl: false, strict_sni: false },
    } }], backends: [] }, opts);
    assert.match(text, /^ {4}bind 127\.0\.0\.1:8443 name https ssl crt-list \/s\/edge\.crtlist alpn h2,http\/1\.1 strict-sni$/m);
    assert.match(text, /^ {4}bind 127\.0\.0\.1:9443 name one ssl crt \/s\/a\.pem$/m);
    assert.match(text, /^ {4}bind 127\.0\.0\.1:8080 name plain$/m);
    assert.deepEqual(unsupportedFields('bind', { name: 'b', ssl: true, ssl_certificate: '/a', crt_list: '/l', alpn: 'h2', strict_sni: true }), []);
  });

  it('names a crt_list that is not one word, alone or in a frontend', () => {
    assert.deepEqual(multiWordFields('bind', { name: 'b', crt_list: '/s/l verify none' }), ['bind.crt_list (must be one word)']);
    assert.deepEqual(multiWordFields('frontend', { name: 'f', binds: { b: { name: 'b', crt_list: '/s/l ca-file /x' } } }), ['bind.crt_list (must be one word)']);
    assert.deepEqual(multiWordFields('bind', { name: 'b', crt_list: '/s/l' }), []);
  });
});
