import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ANNOTATIONS, SCHEMA_VERSION, STATE_BUCKET, infoKey, objectKey } from '@ingressfed/schemas';
import { httpRequest, startFederation, startProber, waitFor, type Federation } from '../harness/index.js';
import { startRecordingProxy, type RecordingProxy } from '../harness/recording-proxy.js';
import { endpointSlice, ingress, ingressClass, service } from '../kube/manifests.js';

// Bad-input rows of RELIABILITY §8.2 injected as forged records: a hostile cluster (gamma, one of
// the hub's clusters, whose spoke the attacker replaced) writes to the state bucket over real NATS
// with gamma's spoke credentials, bypassing its Kubernetes API server. The hub must refuse each bad
// value with a field-specific reason (ERR), never send it to the edge's Data Plane API nor write it
// to the edge's files (NOINJ: every byte the hub sends to the Data Plane API is captured by a proxy
// and searched), and leave an honest cluster's route answering 200 throughout (ISO).

const TOKEN = 'forged-records-token-0123456789abcdef';
const HOSTILE = 'gamma';
/** The honest cluster's route: nothing forged may disturb it. */
const HONEST_HOST = 'honest.example.org';

// ---- forged records -----------------------------------------------------------------------------

let revision = 1_000_000;
/** An envelope as a spoke writes it, with a revision above every earlier one. */
const envelope = (kind: string, name: string, namespace: string | undefined): Record<string, unknown> => {
  revision++;
  return {
    schema: SCHEMA_VERSION, cluster: HOSTILE, epoch: 'forger', observedAt: Date.now(), revision: String(revision),
    source: { uid: `forged-${revision}`, resourceVersion: String(revision), creationTimestamp: '2025-01-01T00:00:00Z' },
    kind, name, ...(namespace === undefined ? {} : { namespace }),
  };
};

interface Rule { host: string; paths: Array<{ path: string; pathType?: 'Exact' | 'Prefix' | 'ImplementationSpecific' }> }

/** A forged Ingress record of gamma; its paths go to gamma-web:8080 (a Service of gamma alone). */
const ingressRecord = (name: string, rules: Rule[], opts: { namespace?: string; annotations?: Record<string, string> } = {}): Record<string, unknown> => ({
  ...envelope('ingress', name, opts.namespace ?? 'default'),
  spec: {
    className: 'ingressfed', annotations: opts.annotations ?? {}, defaultBackend: null, tls: [],
    rules: rules.map((r) => ({
      host: r.host,
      paths: r.paths.map((p) => ({ path: p.path, pathType: p.pathType ?? 'Prefix', backend: { service: { name: 'gamma-web', port: { number: 8080 } } } })),
    })),
  },
});

const ingressKeyOf = (name: string, namespace = 'default'): string => objectKey(HOSTILE, 'ingress', namespace, name);

// ---- the corpus (RELIABILITY §1.5) --------------------------------------------------------------

/** One value of the corpus, with the parts of it that must never reach the edge on their own. */
interface Payload { id: string; value: string; parts: string[] }

const H: Payload[] = [
  { id: 'H1', value: 'a.example.com\nglobal\n    lua-load /srv/x.lua\nfrontend f2', parts: ['lua-load', '/srv/x.lua', 'a.example.com'] },
  { id: 'H2', value: 'a.example.com b.example.com', parts: ['a.example.com', 'b.example.com'] },
  { id: 'H3', value: 'a.example.com#x', parts: ['a.example.com'] },
  { id: 'H4', value: '"a.example.com', parts: ['a.example.com'] },
  { id: 'H4', value: "'a.example.com", parts: ['a.example.com'] },
  { id: 'H5', value: 'a.example.com\\', parts: ['a.example.com'] },
  { id: 'H6', value: '${HOME}', parts: [] },
  { id: 'H6', value: '$NATS_PASS', parts: ['NATS_PASS'] },
  { id: 'H7', value: '%[env(REDIS_PASSWORD)]', parts: ['%[env(', 'REDIS_PASSWORD'] },
  { id: 'H7', value: '%[path', parts: [] },
];

const P: Payload[] = [
  { id: 'P1', value: '/x\n    http-request return status 200 string pwned if TRUE', parts: ['pwned', 'string pwned'] },
  { id: 'P2', value: '/x\nvictim.example.com/admin', parts: ['victim.example.com'] },
  { id: 'P3', value: '/sp ace', parts: [] },
  { id: 'P3', value: '/tab\tx', parts: [] },
  { id: 'P4', value: '/a#b', parts: [] },
  { id: 'P4', value: '#/a', parts: [] },
  { id: 'P5', value: '/a"b', parts: [] },
  { id: 'P5', value: "/a'b", parts: [] },
  { id: 'P5', value: '/a\\b', parts: [] },
  { id: 'P5', value: '/\\x0a', parts: [] },
  { id: 'P6', value: '/a;add map /etc/haproxy/maps/host.map victim.example.com be_evil', parts: ['add map', 'victim.example.com', 'be_evil', '/etc/haproxy/maps'] },
  { id: 'P7', value: '/%[env(HOME)]', parts: ['%[env('] },
  { id: 'P7', value: '/${HOME}', parts: ['${HOME}'] },
];

/** Where a case puts its value in the forged Ingress, and the field its refusal must name. */
type Place = { where: 'host' } | { where: 'path' } | { where: 'annotation'; annotation: string };

interface Case { row: 'B1' | 'B2' | 'B5' | 'B7' | 'B8'; slug: string; title: string; place: Place; value: string; parts: string[]; pathType?: 'Exact' | 'Prefix' | 'ImplementationSpecific'; searchValue?: false }

const show = (s: string): string => JSON.stringify(s);
const hex = (c: string): string => (c.codePointAt(0) as number).toString(16).padStart(2, '0');

const B1_CASES: Case[] = [
  ...H.map((p, i): Case => ({ row: 'B1', slug: `b1-host-${i}`, title: `${p.id} in host ${show(p.value)}`, place: { where: 'host' }, value: p.value, parts: p.parts })),
  ...P.map((p, i): Case => ({ row: 'B1', slug: `b1-path-${i}`, title: `${p.id} in a Prefix path ${show(p.value)}`, place: { where: 'path' }, value: p.value, parts: p.parts })),
  // A1: each payload in the health-check-path annotation. Host values get a leading '/' so that what
  // refuses them is the character check, not the missing slash.
  ...[...H.map((p) => ({ ...p, value: `/${p.value}` })), ...P].map((p, i): Case => ({
    row: 'B1', slug: `b1-annotation-${i}`, title: `A1 (${p.id}) in ${ANNOTATIONS.healthCheckPath} ${show(p.value)}`,
    place: { where: 'annotation', annotation: ANNOTATIONS.healthCheckPath }, value: p.value, parts: p.parts,
  })),
  // A1 with '\r' (CVE-2024-7646 class), alone and as '\r\n', in each annotation ingressfed reads on an Ingress.
  ...[ANNOTATIONS.healthCheckPath, ANNOTATIONS.failover, ANNOTATIONS.healthCheckInterval].flatMap((annotation, j) => [
    { id: 'H1', value: '/healthz\rglobal\r    lua-load /srv/x.lua\rfrontend f2', parts: ['lua-load', '/srv/x.lua'] },
    { id: 'P1', value: '/healthz\r\n    http-request return status 200 string pwned if TRUE', parts: ['pwned', 'string pwned'] },
  ].map((p, i): Case => ({
    row: 'B1', slug: `b1-cr-${j}-${i}`, title: `A1 (${p.id} with \\r) in ${annotation} ${show(p.value)}`,
    place: { where: 'annotation', annotation }, value: p.value, parts: p.parts,
  }))),
];

/** NUL and every other control character, each inside an otherwise valid host and path. */
const CONTROLS = ['\u0000', ...Array.from({ length: 0x1f }, (_, i) => String.fromCharCode(i + 1)), '\u007f'];
const B5_CASES: Case[] = [
  { row: 'B5', slug: 'b5-h14', title: `H14 in host ${show('a\u0000b')}`, place: { where: 'host' }, value: 'a\u0000b', parts: [] },
  ...CONTROLS.map((c): Case => ({ row: 'B5', slug: `b5-host-${hex(c)}`, title: `U+00${hex(c).toUpperCase()} in host`, place: { where: 'host' }, value: `b5-${hex(c)}${c}evil.forged.test`, parts: [] })),
  ...CONTROLS.map((c): Case => ({ row: 'B5', slug: `b5-path-${hex(c)}`, title: `U+00${hex(c).toUpperCase()} in a Prefix path`, place: { where: 'path' }, value: `/b5-${hex(c)}${c}evil`, parts: [] })),
];

/** H8 (wildcard misuse), H10 (case, trailing dot, port, IP) and H13 (Unicode: IDN not in punycode, homoglyph, zero-width, bidi) hosts. */
const B2_HOSTS: Array<{ id: string; value: string }> = [
  ...['*', '*.', '**.b2.example.com', '*.*.b2.example.com', 'a.*.b2.example.com', '*b2.example.com'].map((value) => ({ id: 'H8', value })),
  ...['B2.Example.com', 'b2.example.com.', 'b2.example.com:8080', '192.0.2.1', '[::1]'].map((value) => ({ id: 'H10', value })),
  ...['bücher.example', 'ex\u0430mple.com', 'a\u200b.example.com', 'a\u202e.example.com'].map((value) => ({ id: 'H13', value })),
];
// '*' and '*.' are searched for only as part of the case's marker host: alone they are in any HTTP request (Accept: */*).
const B2_CASES: Case[] = B2_HOSTS.map((p, i): Case => ({
  row: 'B2', slug: `b2-host-${i}`, title: `${p.id} in host ${show(p.value)}`, place: { where: 'host' }, value: p.value, parts: [], ...(p.value.length < 3 ? { searchValue: false } : {}),
}));

/** P8: traversal and normalisation in Prefix and Exact rule paths. */
const B7_CASES: Case[] = ['/../etc/passwd', '/a/./b', '//admin', '/%2fadmin', '/a/..', '/%5cadmin'].flatMap((value, i) => (['Prefix', 'Exact'] as const).map((pathType): Case => ({
  row: 'B7', slug: `b7-path-${i}-${pathType.toLowerCase()}`, title: `P8 in an ${pathType} path ${show(value)}`, place: { where: 'path' }, value, parts: [], pathType,
})));

/** P9: regex, brace injection and ReDoS in ImplementationSpecific paths. */
const B8_CASES: Case[] = [
  { value: '/api/ { return 200; #', parts: ['return 200'] }, { value: '^/(a+)+$', parts: ['(a+)+'] }, { value: '/(unclosed', parts: ['(unclosed'] }, { value: '/a.*', parts: ['/a.*'] },
].map((p, i): Case => ({ row: 'B8', slug: `b8-path-${i}`, title: `P9 in an ImplementationSpecific path ${show(p.value)}`, place: { where: 'path' }, value: p.value, parts: p.parts, pathType: 'ImplementationSpecific' }));

/** A valid host unique to a case: were any part of its Ingress planned, this host would reach the edge. */
const markerHost = (c: Case): string => `${c.slug}.forged.test`;

/** The forged Ingress of a case: its value in place, next to a valid rule on the case's own host. */
function caseRecord(c: Case): Record<string, unknown> {
  const marker = markerHost(c);
  if (c.place.where === 'host') return ingressRecord(c.slug, [{ host: c.value, paths: [{ path: '/' }] }, { host: marker, paths: [{ path: '/' }] }]);
  if (c.place.where === 'path') return ingressRecord(c.slug, [{ host: marker, paths: [{ path: c.value, ...(c.pathType ? { pathType: c.pathType } : {}) }] }]);
  return ingressRecord(c.slug, [{ host: marker, paths: [{ path: '/' }] }], { annotations: { [c.place.annotation]: c.value } });
}

/** The field a case's refusal must name (model notation, or the schema's JSON pointer). */
function fieldOf(c: Case): RegExp {
  if (c.place.where === 'host') return /spec\.rules\[0\]\.host|\/spec\/rules\/0\/host/;
  if (c.place.where === 'path') return /spec\.rules\[0\]\.http\.paths\[0\]\.path|\/spec\/rules\/0\/paths\/0\/path/;
  const a = c.place.annotation.replace(/[.\\/-]/g, (ch) => `\\${ch}`);
  return new RegExp(`metadata\\.annotations: annotation ${a}|/spec/annotations/${a.replace(/\//g, '~1')}`);
}

// ---- searching what reached the edge ------------------------------------------------------------

/** A value as it would travel: raw, inside a JSON string, percent-encoded in a URL. */
const travelForms = (s: string): string[] => [s, JSON.stringify(s).slice(1, -1), encodeURIComponent(s)];
const percentDecoded = (s: string): string => s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));

/** The needles of `needles` found in `texts` (each also searched percent-decoded), with where. */
function found(texts: Array<{ where: string; text: string }>, needles: string[]): string[] {
  const out: string[] = [];
  for (const { where, text } of texts) {
    const decoded = percentDecoded(text);
    for (const n of needles) if (text.includes(n) || decoded.includes(n)) out.push(`${show(n)} in ${where}`);
  }
  return out;
}

/** Every regular file under `dir` (relative names); unreadable entries (sockets, vanished files) are skipped. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      try {
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.isFile()) out.push(relative(dir, p));
      } catch {
        // gone since listed
      }
    }
  };
  walk(dir);
  return out.sort();
}

// ---- the hub API --------------------------------------------------------------------------------

interface StateView {
  refused: Array<{ key: string; cluster: string | null; reason: string }>;
  ingresses: Record<string, { state: string; reasons?: string[] }>;
  routes: Array<{ host: string; path: string; sources: Array<{ cluster: string; namespace: string; name: string }> }>;
}

type Verdict = { kind: 'refused'; reason: string } | { kind: 'invalid'; reason: string };

describe('faults: forged records of a hostile cluster over NATS (bad-input rows B1, B5, B9, B10, B17)', { timeout: 600_000 }, () => {
  let fed: Federation;
  let proxy: RecordingProxy;
  let forger: NatsConnection;
  let kv: KV;
  const edge = (): Federation['edges'][number] => fed.edges[0] as Federation['edges'][number];
  const api = async <T>(path: string): Promise<T> => {
    const r = await httpRequest(`${fed.apiUrl}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, `GET ${path}: ${r.body.slice(0, 200)}`);
    return path === '/metrics' ? (r.body as T) : r.json<T>();
  };
  const state = (): Promise<StateView> => api<StateView>('/api/v1/state');
  const refusedMetric = async (): Promise<number> => {
    const m = /^ingressfed_refused_records (\d+)$/m.exec(await api<string>('/metrics'));
    assert.ok(m, 'ingressfed_refused_records on /metrics');
    return Number(m[1]);
  };
  const version = (): Promise<number> => edge().dp.client.getVersion();

  /** The hub's verdict on a key (schema refusal) or on its Ingress (merge refusal), once it has one. */
  const verdict = (key: string, ingress: string): Promise<Verdict> => waitFor(`the hub's verdict on ${key}`, async () => {
    const s = await state();
    const refused = s.refused.find((r) => r.key === key);
    if (refused) return { kind: 'refused' as const, reason: refused.reason };
    const ing = s.ingresses[ingress];
    if (ing?.state === 'invalid') return { kind: 'invalid' as const, reason: (ing.reasons ?? []).join('\n') };
    if (ing) throw new Error(`${ingress} is ${ing.state}: ${JSON.stringify(ing)}`);
    return undefined;
  }, { timeoutMs: 10_000 });

  /** NOINJ: none of `needles` in any byte the hub sent to the Data Plane API, nor in any file of the edge. */
  const assertNotInjected = (needles: string[]): void => {
    const sent = proxy.sent().map((text, i) => ({ where: `Data Plane API connection ${i}`, text }));
    assert.deepEqual(found(sent, needles), [], 'sent to the Data Plane API');
    const dir = edge().dp.workdir;
    const files = filesUnder(dir).flatMap((f) => {
      try {
        const st = statSync(join(dir, f));
        return st.size > 8 * 1024 * 1024 ? [] : [{ where: `edge file ${f}`, text: readFileSync(join(dir, f), 'utf8') }];
      } catch {
        return [];
      }
    });
    assert.ok(files.some((f) => f.where.endsWith('.cfg')), `the edge's configuration file is among ${files.map((f) => f.where).join(', ')}`);
    assert.deepEqual(found(files, needles), [], "in the edge's files");
  };

  /**
   * ISO: runs `body` while the honest route is probed; every probe must answer 200, and the edge's
   * configuration version must not move (a refused record, or an Ingress judged invalid, plans nothing).
   */
  const isolated = async <T>(body: () => Promise<T>): Promise<T> => {
    await fed.hub.idle();
    const v0 = await version();
    const prober = startProber(`${edge().url}/`, HONEST_HOST);
    let out: T;
    let probed: { requests: number; failures: number };
    try {
      out = await body();
      await fed.hub.idle();
    } finally {
      probed = await prober.stop();
    }
    assert.ok(probed.requests > 0, 'the honest route was probed');
    assert.equal(probed.failures, 0, `${probed.failures} of ${probed.requests} requests to ${HONEST_HOST} did not answer 200`);
    assert.equal((await httpRequest(`${edge().url}/`, { host: HONEST_HOST })).status, 200);
    assert.equal(await version(), v0, 'the edge configuration version did not move');
    return out;
  };

  /** Deletes forged keys and waits until the hub forgets them (refusals and Ingresses alike). */
  const remove = async (keys: string[], ingresses: string[]): Promise<void> => {
    for (const k of keys) await kv.delete(k);
    await waitFor('the forged keys forgotten', async () => {
      const s = await state();
      return !s.refused.some((r) => keys.includes(r.key)) && ingresses.every((i) => s.ingresses[i] === undefined);
    }, { timeoutMs: 10_000 });
    await fed.hub.idle();
  };

  before(async () => {
    fed = await startFederation({
      clusters: [{ name: 'alpha', zone: 'zone-a' }],
      api: { tokens: [{ name: 'ops', token: TOKEN, role: 'read' }] },
      hub: { clusters: ['alpha', HOSTILE] },
    });
    await fed.kubectl('alpha', ['create', '-f', '-'], ingressClass());
    await fed.kubectl('alpha', ['create', '-f', '-'], service('honest'));
    await fed.kubectl('alpha', ['create', '-f', '-'], endpointSlice('honest', [{ address: '127.0.60.1' }]));
    await fed.kubectl('alpha', ['create', '-f', '-'], ingress('honest', [{ host: HONEST_HOST, paths: [{ path: '/', service: 'honest' }] }]));
    await fed.echo.settled();
    await waitFor('the honest route served', async () => (await httpRequest(`${edge().url}/`, { host: HONEST_HOST })).status === 200, { timeoutMs: 20_000 });
    // From here on the hub reaches the Data Plane API through the recording proxy: a new hub is made
    // from the edge's configuration, which now names the proxy.
    proxy = await startRecordingProxy(edge().dp.url);
    edge().config.url = proxy.url;
    await fed.restartHub();
    await waitFor('the hub ready', () => fed.hub.ready, { timeoutMs: 10_000 });
    await fed.hub.idle();
    assert.ok(proxy.connections > 0 && proxy.bytes > 0, 'the hub talks to the edge through the proxy');
    // The hostile cluster: its info and IngressClass, as its spoke would have written them.
    forger = await fed.nats.connectAsSpoke(HOSTILE);
    kv = await new Kvm(jetstream(forger)).open(STATE_BUCKET, { allow_direct: true });
    await kv.put(infoKey(HOSTILE), JSON.stringify({ schema: SCHEMA_VERSION, cluster: HOSTILE, zone: 'zone-c', region: null, endpointMode: 'pod', spokeVersion: 'forged', epoch: 'forger', startedAt: Date.now() }));
    await kv.put(objectKey(HOSTILE, 'ingressclass', undefined, 'ingressfed'), JSON.stringify({
      ...envelope('ingressclass', 'ingressfed', undefined), spec: { controller: 'ingressfed.io/hub', isDefault: true },
    }));
    // Control for NOINJ: a valid forged Ingress does reach the edge, and the proxy sees its host.
    const control = ingressKeyOf('control');
    await kv.put(control, JSON.stringify(ingressRecord('control', [{ host: 'control.forged.test', paths: [{ path: '/' }] }])));
    await waitFor('the control route planned', async () => (await state()).routes.some((r) => r.host === 'control.forged.test'), { timeoutMs: 10_000 });
    await fed.hub.idle();
    assert.notDeepEqual(found(proxy.sent().map((text) => ({ where: 'proxy', text })), ['control.forged.test']), [], "a valid forged Ingress's host is seen on its way to the edge");
    await kv.delete(control);
    await waitFor('the control route gone', async () => !(await state()).routes.some((r) => r.host === 'control.forged.test'), { timeoutMs: 10_000 });
    await fed.hub.idle();
    assert.deepEqual((await state()).refused, [], 'nothing refused before the forgeries');
  });

  after(async () => {
    if (proxy) console.log(`the hub sent ${proxy.bytes} bytes to the Data Plane API on ${proxy.connections} connections, every one searched`);
    await forger?.close().catch(() => undefined);
    await fed?.stop();
    await proxy?.stop();
  });

  // B1 (H1–H7, P1–P7, A1), B2 (H8, H10, H13), B5 (NUL and control characters), B7 (P8) and B8 (P9): ERR, NOINJ, ISO.
  for (const c of [...B1_CASES, ...B2_CASES, ...B5_CASES, ...B7_CASES, ...B8_CASES]) {
    it(`${c.row}: ${c.title} is refused naming its field; nothing of it reaches the edge; the honest route keeps answering`, async () => {
      const key = ingressKeyOf(c.slug);
      const ref = `${HOSTILE}/default/${c.slug}`;
      const v = await isolated(async () => {
        await kv.put(key, JSON.stringify(caseRecord(c)));
        return verdict(key, ref);
      });
      assert.match(v.reason, fieldOf(c), `${v.kind}: ${v.reason}`);
      assert.doesNotMatch(v.reason, /spec\.rules\[1\]/, 'the valid rule next to it is not blamed');
      assertNotInjected([...new Set([...(c.searchValue === false ? [] : travelForms(c.value)), ...travelForms(markerHost(c)), ...c.parts])]);
      await remove([key], [ref]);
    });
  }

  it('B2: an international host in punycode (H13, xn--bcher-kva) is accepted and routed, where its Unicode form is refused', async () => {
    const host = 'xn--bcher-kva.forged.test';
    const key = ingressKeyOf('b2-punycode');
    await kv.put(key, JSON.stringify(ingressRecord('b2-punycode', [{ host, paths: [{ path: '/' }] }])));
    await waitFor('the punycode host routed', async () => (await state()).routes.some((r) => r.host === host), { timeoutMs: 10_000 });
    await fed.hub.idle();
    assert.equal((await state()).ingresses[`${HOSTILE}/default/b2-punycode`]?.state, 'accepted');
    await remove([key], [`${HOSTILE}/default/b2-punycode`]);
  });

  it('B9: objects whose naive keys collide (x/a.b and x.a/b; names with *, > and =) are kept under distinct keys; none overwrites another', async () => {
    const dotted = { name: 'a.b', namespace: 'x', host: 'n1-dotted-name.forged.test' };
    const others = [
      { name: 'b', namespace: 'x.a', field: /\/namespace/ }, // Kubernetes forbids dots in namespaces
      { name: 'a*', namespace: 'x', field: /\/name/ },
      { name: 'a>', namespace: 'x', field: /\/name/ },
      { name: '*', namespace: 'x', field: /\/name/ },
      { name: '>', namespace: 'x', field: /\/name/ },
      { name: 'a=2Eb', namespace: 'x', field: /\/name/ }, // the escape of '.' written literally
    ];
    const dottedKey = ingressKeyOf(dotted.name, dotted.namespace);
    const otherKeys = others.map((o) => ingressKeyOf(o.name, o.namespace));
    const naiveKey = `${HOSTILE}.ingress.x.a.b`; // what x/a.b and x.a/b would both be, unescaped
    const keys = [dottedKey, ...otherKeys];
    assert.equal(new Set(keys).size, keys.length, `distinct keys: ${keys.join(' ')}`);
    const written = new Map<string, string>();
    const put = async (k: string, record: Record<string, unknown>): Promise<void> => {
      written.set(k, JSON.stringify(record));
      await kv.put(k, written.get(k) as string);
    };
    await put(dottedKey, ingressRecord(dotted.name, [{ host: dotted.host, paths: [{ path: '/' }] }], { namespace: dotted.namespace }));
    await waitFor('x/a.b routed', async () => (await state()).routes.some((r) => r.host === dotted.host), { timeoutMs: 10_000 });
    await isolated(async () => {
      for (const [i, o] of others.entries()) {
        await put(otherKeys[i] as string, ingressRecord(o.name, [{ host: `n1-other-${i}.forged.test`, paths: [{ path: '/' }] }], { namespace: o.namespace }));
      }
      await put(naiveKey, ingressRecord('b', [{ host: 'n1-naive.forged.test', paths: [{ path: '/' }] }], { namespace: 'x.a' }));
      await waitFor('every forged key judged', async () => {
        const s = await state();
        return [...otherKeys, naiveKey].every((k) => s.refused.some((r) => r.key === k));
      }, { timeoutMs: 10_000 });
    });
    // The bucket holds each record under its own key, as written.
    for (const [k, v] of written) assert.equal((await kv.get(k))?.string(), v, `${k} holds its own record`);
    const listed = new Set<string>();
    for await (const k of await kv.keys(`${HOSTILE}.ingress.>`)) listed.add(k);
    for (const k of written.keys()) assert.ok(listed.has(k), `${k} listed`);
    // The hub: x/a.b is in the model with its route; each other object is refused, naming its field.
    const s = await state();
    assert.equal(s.ingresses[`${HOSTILE}/x/a.b`]?.state, 'accepted', JSON.stringify(s.ingresses[`${HOSTILE}/x/a.b`]));
    const route = s.routes.find((r) => r.host === dotted.host);
    assert.deepEqual(route?.sources, [{ cluster: HOSTILE, namespace: 'x', name: 'a.b' }]);
    for (const [i, o] of others.entries()) {
      const r = s.refused.find((x) => x.key === otherKeys[i]);
      assert.match(r?.reason ?? '', o.field, `${o.namespace}/${o.name}: ${r?.reason}`);
      assert.equal(s.ingresses[`${HOSTILE}/${o.namespace}/${o.name}`], undefined);
      assert.ok(!s.routes.some((x) => x.host === `n1-other-${i}.forged.test`), `no route of ${o.namespace}/${o.name}`);
    }
    assert.match(s.refused.find((x) => x.key === naiveKey)?.reason ?? '', /does not have the form <cluster>\.<kind>\.<namespace>\.<name>/);
    assert.ok(!s.routes.some((x) => x.host === 'n1-naive.forged.test'), 'the unescaped key planned nothing');
    assertNotInjected(['n1-naive.forged.test', ...others.map((_o, i) => `n1-other-${i}.forged.test`)]);
    await remove([...keys, naiveKey], [`${HOSTILE}/x/a.b`]);
    await waitFor('x/a.b unrouted', async () => !(await state()).routes.some((r) => r.host === dotted.host), { timeoutMs: 10_000 });
  });

  it('B10: a forged uid ../../etc/passwd and resourceVersion abc are refused; the edge configuration and its files do not change', async () => {
    const workdir = edge().dp.workdir;
    await fed.hub.idle();
    // Where the uid would lead as a path from the workdir or any directory in it (/etc/passwd among them).
    const targets = [...new Set(['.', ...filesUnder(workdir).map(dirname)].map((d) => resolve(workdir, d, '../../etc/passwd')))];
    const mtimes = (): string[] => targets.map((t) => `${t} ${existsSync(t) ? statSync(t).mtimeMs : 'absent'}`);
    const targetsBefore = mtimes();
    // Files the Data Plane API writes atomically pass through a `.tmp-<pid>` name: not files of their own.
    const settledFiles = (): string[] => filesUnder(workdir).filter((f) => !/\.tmp-\d+$/.test(f));
    const filesBefore = settledFiles();
    const forged = [
      { name: 'n2-uid', source: { uid: '../../etc/passwd', resourceVersion: '1', creationTimestamp: '2025-01-01T00:00:00Z' }, field: /\/source\/uid/ },
      { name: 'n2-rv', source: { uid: 'n2-rv', resourceVersion: 'abc', creationTimestamp: '2025-01-01T00:00:00Z' }, field: /\/source\/resourceVersion/ },
      { name: 'n2-both', source: { uid: '../../etc/passwd', resourceVersion: 'abc', creationTimestamp: '2025-01-01T00:00:00Z' }, field: /\/source\/(uid|resourceVersion)/ },
    ];
    const keys = forged.map((f) => ingressKeyOf(f.name));
    const reasons = await isolated(async () => {
      for (const [i, f] of forged.entries()) {
        await kv.put(keys[i] as string, JSON.stringify({ ...ingressRecord(f.name, [{ host: `${f.name}.forged.test`, paths: [{ path: '/' }] }]), source: f.source }));
      }
      return Promise.all(forged.map((f, i) => verdict(keys[i] as string, `${HOSTILE}/default/${f.name}`)));
    });
    for (const [i, f] of forged.entries()) {
      assert.equal(reasons[i]?.kind, 'refused', `${f.name}: ${JSON.stringify(reasons[i])}`);
      assert.match(reasons[i]?.reason ?? '', f.field);
    }
    const filesAfter = settledFiles();
    assert.deepEqual(filesAfter, filesBefore, 'no file appeared in or left the Data Plane API workdir');
    assert.deepEqual(filesUnder(workdir).filter((f) => /passwd|abc|\.\./.test(f)), [], 'no file name derived from the uid or resourceVersion');
    assert.deepEqual(mtimes(), targetsBefore, 'nothing written where the uid points outside the workdir');
    assertNotInjected(['../../etc/passwd', 'etc/passwd', 'n2-uid.forged.test', 'n2-rv.forged.test', 'n2-both.forged.test']);
    await remove(keys, []);
  });

  // B17: a malformed entry is refused with its reason and counted; the key is not blocked.
  const malformed: Array<{ what: string; name: string; value: (name: string) => string; reason: RegExp }> = [
    { what: 'malformed JSON', name: 'b17-json', value: () => '{"schema":1,"cluster":"gamma","kind":"ingress"', reason: /value is not valid JSON/ },
    { what: 'schema: 2', name: 'b17-schema', value: (n) => JSON.stringify({ ...ingressRecord(n, [{ host: `${n}.forged.test`, paths: [{ path: '/' }] }]), schema: 2 }), reason: /invalid ingress record: \/schema/ },
    {
      what: 'an extra field', name: 'b17-extra',
      value: (n) => JSON.stringify({ ...ingressRecord(n, [{ host: `${n}.forged.test`, paths: [{ path: '/' }] }]), configurationSnippet: 'lua-load /srv/x.lua' }),
      reason: /invalid ingress record: .*(additional|configurationSnippet)/i,
    },
  ];
  for (const m of malformed) {
    it(`B17: ${m.what} is refused with its reason and counted in ingressfed_refused_records; a later valid record of the key is accepted`, async () => {
      const key = ingressKeyOf(m.name);
      const ref = `${HOSTILE}/default/${m.name}`;
      const host = `${m.name}.forged.test`;
      const counted = await refusedMetric();
      const v = await isolated(async () => {
        await kv.put(key, m.value(m.name));
        return verdict(key, ref);
      });
      assert.equal(v.kind, 'refused');
      assert.match(v.reason, m.reason);
      assert.ok(v.reason.startsWith(key), `the reason names the key: ${v.reason}`);
      await waitFor('the refusal counted', async () => (await refusedMetric()) === counted + 1, { timeoutMs: 5000 });
      assertNotInjected([host, 'configurationSnippet', 'lua-load']);
      // The stream is not blocked: the next valid record of the same key is taken, and goes live.
      await kv.put(key, JSON.stringify(ingressRecord(m.name, [{ host, paths: [{ path: '/' }] }])));
      await waitFor('the valid record accepted', async () => {
        const s = await state();
        return s.ingresses[ref]?.state === 'accepted' && !s.refused.some((r) => r.key === key) && s.routes.some((r) => r.host === host);
      }, { timeoutMs: 10_000 });
      await waitFor('the refusal no longer counted', async () => (await refusedMetric()) === counted, { timeoutMs: 5000 });
      await fed.hub.idle();
      assert.notDeepEqual(found(proxy.sent().map((text) => ({ where: 'proxy', text })), [host]), [], 'the valid route reached the edge');
      assert.equal((await httpRequest(`${edge().url}/`, { host: HONEST_HOST })).status, 200, 'the honest route still answers');
      await remove([key], [ref]);
    });
  }
});
