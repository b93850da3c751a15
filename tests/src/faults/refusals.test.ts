import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '@ingressfed/schemas';
import { waitFor } from '../harness/index.js';
import { endpointSlice, ingress, ingressClass, service, type IngressPath } from '../kube/manifests.js';
import type { KubeCluster } from '../harness/index.js';
import { startRealSpokeRig, startSpokeRig, type SpokeRig } from './spoke-rig.js';

// B4, B16, B17: a record the hub's intake would refuse (over-long fields, over the size cap,
// malformed) is not published by the spoke. Its key keeps the last version published, the owner
// gets a Warning Event on the Ingress naming the field, and the spoke logs and counts it; records of
// Services have no owner to tell but the operator (log and counter). The hub never sees a record it
// would have to refuse. The cases run against a real kube-apiserver (the spoke as deploy/spoke's
// ServiceAccount), but for the values only the stand-in accepts (a real API server refuses them,
// so only a buggy or forged source could send them).

const REFUSED = 'record not published: the hub would refuse it';
const key = (kind: string, name: string): string => `alpha.${kind}.default.${name}`;
const web = (name: string, paths: IngressPath[] = [{ path: '/', service: 'web' }], host = `${name}.example.com`, annotations: Record<string, string> = {}): string =>
  ingress(name, [{ host, paths }], { annotations });
/** The API server's limit on the total size of an object's annotations. */
const ANNOTATIONS_LIMIT = 256 * 1024;
/** A host of `length` characters, in labels of at most 63: only its length is at fault. */
const longHost = (length: number): string => `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.`.padEnd(length - 4, 'd') + '.com';
/** Distinct IPv4 addresses, 250 per /24. */
const addresses = (n: number, from: number): Array<{ address: string }> =>
  Array.from({ length: n }, (_, i) => ({ address: `10.${Math.floor((from + i) / 62_500)}.${Math.floor(((from + i) % 62_500) / 250)}.${((from + i) % 250) + 1}` }));

/** The rig, and what every case checks of a withheld record. */
function refusalSuite<K extends KubeCluster>(start: () => Promise<SpokeRig<K>>, address: (n: number) => string) {
  const t = { rig: undefined as unknown as SpokeRig<K> };
  const refusalEvent = (name: string, fields: RegExp) => waitFor(`a RecordRefused Event on ${name}`, async () =>
    (await t.rig.events(name)).find((e) => e.reason === 'RecordRefused' && fields.test(e.message)), { timeoutMs: 15_000 });
  const refusalLog = (k: string) => t.rig.logs.find((l) => l.msg === REFUSED && l.fields.key === k);

  /** Applies `bad` (replacing or creating `name`) and checks everything a withheld Ingress record must show. */
  async function withheld(name: string, bad: string, fields: RegExp, verb: 'replace' | 'create'): Promise<void> {
    const k = key('ingress', name);
    const before = await t.rig.entry(k);
    const counted = t.rig.spoke.refusedRecords;
    await t.rig.kubectl([verb, '-f', '-'], bad);
    const ev = await refusalEvent(name, fields);
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, before ? /Its last published version stays in force\.$/ : /It is not served\.$/);
    const line = refusalLog(k);
    assert.ok(line && fields.test(String(line.fields.fields)) && line.level === 'warn', `logged: ${JSON.stringify(line)}`);
    assert.equal(t.rig.spoke.refusedRecords, counted + 1, 'counted once');
    assert.ok(t.rig.spoke.refusals().some((r) => r.key === k));
    assert.deepEqual((await t.rig.entry(k))?.revision, before?.revision, 'the bucket still holds the last published version');
    assert.equal(t.rig.hub?.intake.refused.size, 0, 'the hub was given nothing to refuse');
  }

  async function published(name: string): Promise<void> {
    await t.rig.kubectl(['create', '-f', '-'], web(name));
    await waitFor(`${name} published`, () => t.rig.entry(key('ingress', name)));
  }

  before(async () => {
    t.rig = await start();
    await t.rig.kubectl(['create', '-f', '-'], ingressClass());
    await t.rig.kubectl(['create', '-f', '-'], service('web'));
    await t.rig.kubectl(['create', '-f', '-'], endpointSlice('web', [{ address: address(1) }]));
    await published('web');
  });

  after(async () => {
    await t.rig?.stop();
  });
  return { t, withheld, published, refusalLog, refusalEvent };
}

describe('faults: records the hub would refuse are withheld by the spoke, which tells their owner (a real kube-apiserver)', { timeout: 180_000 }, () => {
  const { t, withheld, published, refusalLog } = refusalSuite(() => startRealSpokeRig({ hub: true }), (n) => `10.250.1.${n}`);

  it('B4: a 100 KB path is withheld; the Event names spec.rules[0].http.paths[0].path', async () => {
    await published('long-path');
    const path = `/${'p'.repeat(100 * 1024 - 1)}`;
    await withheld('long-path', web('long-path', [{ path, service: 'web' }]), /spec\.rules\[0\]\.http\.paths\[0\]\.path must not have more than 1024 characters \(it has 102400\)/, 'replace');
  });

  it('B4: a 256 KiB annotation: over the limit the API server refuses it; at the limit it is withheld, the Event naming the annotation', async () => {
    await published('long-annotation');
    const annotation = ANNOTATIONS.healthCheckPath;
    const over = t.rig.kube.kubectl(['replace', '-f', '-'], web('long-annotation', undefined, undefined, { [annotation]: `/${'a'.repeat(256 * 1024 - 1)}` }));
    assert.match((await over).stderr, /metadata\.annotations: Too long: may not be more than 262144 bytes/);
    const atLimit = `/${'a'.repeat(ANNOTATIONS_LIMIT - annotation.length - 1)}`;
    await withheld('long-annotation', web('long-annotation', undefined, undefined, { [annotation]: atLimit }),
      new RegExp(`metadata\\.annotations\\['ingressfed\\.io/health-check-path'\\] must not have more than 4096 characters \\(it has ${atLimit.length}\\)`), 'replace');
  });

  it('B4: a host with a 64-character label is published, and refused by the hub\'s merge: an InvalidSpec Event', async () => {
    const host = `${'a'.repeat(64)}.example.com`;
    await t.rig.kubectl(['create', '-f', '-'], web('long-label', undefined, host));
    const ev = await waitFor('the hub\'s InvalidSpec Event', async () => (await t.rig.events('long-label')).find((e) => e.reason === 'InvalidSpec'), { timeoutMs: 15_000 });
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /spec\.rules\[0\]\.host: "a{64}\.example\.com" has a label of 64 characters \(at most 63\)/);
    assert.equal((await t.rig.entry<{ spec: { rules: Array<{ host: string }> } }>(key('ingress', 'long-label')))?.value.spec.rules[0]?.host, host);
    assert.ok(!(await t.rig.events('long-label')).some((e) => e.reason === 'RecordRefused'), 'the hub accepts the record: the spoke publishes it');
  });

  it('B16: an Ingress whose record exceeds the hub\'s 512 KiB is withheld; the Event names spec.rules', async () => {
    await published('huge');
    const paths = (rule: number): IngressPath[] => Array.from({ length: 256 }, (_, i) => ({ path: `/${rule}-${i}-`.padEnd(1024, 'x'), service: 'web' }));
    const huge = ingress('huge', [{ host: 'huge-1.example.com', paths: paths(1) }, { host: 'huge-2.example.com', paths: paths(2) }]);
    await withheld('huge', huge, /its record would be \d{6} bytes, more than the 524288 the hub reads \(spec\.rules takes \d{6}\)/, 'replace');
  });

  it('B16: a Service whose endpoints record exceeds 512 KiB (4,001 endpoints) is withheld: logged and counted, the last endpoints kept', async () => {
    await t.rig.kubectl(['create', '-f', '-'], service('many'));
    await t.rig.kubectl(['create', '-f', '-'], endpointSlice('many', [{ address: '10.250.2.1' }]));
    await t.rig.kubectl(['create', '-f', '-'], web('many', [{ path: '/', service: 'many' }]));
    const k = key('endpoints', 'many');
    // 3,001 endpoints still fit (about 400 KB): the last version published.
    for (let s = 0; s < 3; s++) await t.rig.kubectl(['create', '-f', '-'], endpointSlice('many', addresses(1000, s * 1000), { name: `many-big-${s}` }));
    const before = await waitFor('3,001 endpoints published', async () => {
      const e = await t.rig.entry<{ spec: { endpoints: unknown[] } }>(k);
      return e?.value.spec.endpoints.length === 3001 && e;
    }, { timeoutMs: 15_000 });
    const counted = t.rig.spoke.refusedRecords;
    await t.rig.kubectl(['create', '-f', '-'], endpointSlice('many', addresses(1000, 3000), { name: 'many-big-3' }));
    const line = await waitFor('the refusal logged', () => refusalLog(k), { timeoutMs: 15_000 });
    assert.match(String(line.fields.fields), /its record would be \d{6} bytes, more than the 524288 the hub reads \(spec\.endpoints takes \d{6}\)/);
    assert.equal(line.fields.keptLastPublished, true);
    assert.equal(t.rig.spoke.refusedRecords, counted + 1);
    assert.equal((await t.rig.entry(k))?.revision, before.revision, 'the last published endpoints stay');
    assert.ok(!(await t.rig.events('many')).some((e) => e.reason === 'RecordRefused'), 'a Service\'s record has no Ingress to tell');
    assert.equal(t.rig.hub?.intake.refused.size, 0);
  });

  it('B17: 33 ingressfed.io annotations are withheld; the Event names metadata.annotations', async () => {
    await published('annotated');
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`ingressfed.io/k${i}`, 'v']));
    await withheld('annotated', web('annotated', undefined, undefined, many), /metadata\.annotations must not have more than 32 properties/, 'replace');
  });

  it('B4/B16/B17: a withheld record fixed is published and no longer reported; other records were published throughout', async () => {
    await t.rig.kubectl(['replace', '-f', '-'], web('annotated'));
    await waitFor('the fixed Ingress published', () => t.rig.logs.some((l) => l.msg === 'a refused record is accepted again and published' && l.fields.key === key('ingress', 'annotated')));
    assert.ok(!t.rig.spoke.refusals().some((r) => r.key === key('ingress', 'annotated')));
    await published('fine');
    await waitFor('the hub routes the other Ingresses', () => ['web', 'annotated', 'fine'].every((n) => t.rig.hub?.currentModel()?.routes.some((r) => r.host === `${n}.example.com`)), { timeoutMs: 10_000 });
    assert.deepEqual(t.rig.spoke.refusals().map((r) => r.key).sort(), [
      key('endpoints', 'many'), ...['huge', 'long-annotation', 'long-path'].map((n) => key('ingress', n)),
    ].sort());
    assert.equal(t.rig.hub?.intake.refused.size, 0);
  });
});

describe('faults: values only a broken or forged API server sends are withheld too (the stand-in)', { timeout: 120_000 }, () => {
  const { t, withheld, published, refusalLog } = refusalSuite(() => startSpokeRig({ hub: true }), (n) => `127.0.1.${n}`);

  it('B4: a 254-character host (only the stand-in accepts it) is withheld; the Event names spec.rules[0].host', async () => {
    await published('long-host');
    await withheld('long-host', web('long-host', undefined, longHost(254)), /spec\.rules\[0\]\.host must not have more than 253 characters \(it has 254\)/, 'replace');
  });

  it('B17: an unknown pathType (only the stand-in accepts it) is withheld from the start: the Event says it is not served', async () => {
    await withheld('regex', web('regex', [{ path: '/a+', pathType: 'Regex' as 'Prefix', service: 'web' }]),
      /spec\.rules\[0\]\.http\.paths\[0\]\.pathType must be one of Exact, Prefix, ImplementationSpecific/, 'create');
    assert.equal(await t.rig.entry(key('ingress', 'regex')), undefined);
  });

  it('B17: an endpoint address that is no IP (only the stand-in accepts it) is withheld: logged and counted, the last endpoints kept', async () => {
    await t.rig.kubectl(['create', '-f', '-'], service('named'));
    await t.rig.kubectl(['create', '-f', '-'], endpointSlice('named', [{ address: '127.0.3.1' }]));
    await t.rig.kubectl(['create', '-f', '-'], web('named', [{ path: '/', service: 'named' }]));
    const k = key('endpoints', 'named');
    const before = await waitFor('the endpoints published', () => t.rig.entry(k));
    await t.rig.kubectl(['replace', '-f', '-'], endpointSlice('named', [{ address: 'backend.invalid' }]));
    const line = await waitFor('the refusal logged', () => refusalLog(k), { timeoutMs: 15_000 });
    assert.match(String(line.fields.fields), /spec\.endpoints\[0\]\.address "backend\.invalid" is not of the required form/);
    assert.equal((await t.rig.entry(k))?.revision, before.revision);
  });

  it('a withheld record fixed is published and no longer reported', async () => {
    await t.rig.kubectl(['replace', '-f', '-'], web('regex'));
    await waitFor('the fixed Ingress published', () => t.rig.entry(key('ingress', 'regex')));
    assert.ok(t.rig.logs.some((l) => l.msg === 'a refused record is accepted again and published' && l.fields.key === key('ingress', 'regex')));
    assert.deepEqual(t.rig.spoke.refusals().map((r) => r.key).sort(), [key('endpoints', 'named'), key('ingress', 'long-host')].sort());
    assert.equal(t.rig.hub?.intake.refused.size, 0);
  });
});
