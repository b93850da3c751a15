import { MAX_RECORD_BYTES, decodeStateEntry, validators, type ObjectRecord } from '@ingressfed/schemas';

// The spoke checks every record with the hub's own intake check before publishing it: a record the
// hub would refuse is not published (the last published version of its key stays in force), and the
// owner is told which field is at fault, in the Kubernetes object's own terms where the record maps
// them one to one.

export interface RecordRefusal {
  key: string;
  record: ObjectRecord;
  /** The hub's reason, as its intake would give it. */
  reason: string;
  /** The fields at fault, for people. */
  fields: string;
}

/** Undefined when the hub would accept the record as `json`; else why not. */
export function refusalOf(key: string, record: ObjectRecord, json: string): RecordRefusal | undefined {
  const bytes = Buffer.from(json);
  const res = decodeStateEntry(key, bytes);
  if (res.ok) return undefined;
  const fields = bytes.length > MAX_RECORD_BYTES ? sizeProblem(record, bytes.length)
    : schemaProblems(record) ?? res.reason.replace(`${key.slice(0, 160)}: `, '');
  return { key, record, reason: res.reason, fields };
}

function sizeProblem(record: ObjectRecord, bytes: number): string {
  let field = '';
  let size = 0;
  for (const [k, v] of Object.entries(record.spec)) {
    const n = Buffer.byteLength(JSON.stringify(v));
    if (n > size) [field, size] = [k, n];
  }
  return `its record would be ${bytes} bytes, more than the ${MAX_RECORD_BYTES} the hub reads (${fieldName(record.kind, ['spec', field])} takes ${size})`;
}

interface SchemaError { instancePath: string; message: string; keyword?: string; params?: { allowedValue?: unknown } }

/** Up to five fields, one message each; a union of literals is told as its allowed values. */
function schemaProblems(record: ObjectRecord): string | undefined {
  const errors = [...validators[record.kind].Errors(record)] as SchemaError[];
  if (errors.length === 0) return undefined;
  const byPath = new Map<string, SchemaError[]>();
  for (const e of errors) byPath.set(e.instancePath, [...(byPath.get(e.instancePath) ?? []), e]);
  return [...byPath].slice(0, 5).map(([path, errs]) => {
    const segs = path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const allowed = errs.filter((e) => e.keyword === 'const').map((e) => String(e.params?.allowedValue));
    const first = errs[0] as SchemaError;
    const value = valueAt(record, segs);
    const text = typeof value === 'string' ? value : undefined;
    const detail = allowed.length > 0 ? `must be one of ${allowed.join(', ')}`
      : first.keyword === 'maxLength' && text !== undefined ? `${first.message} (it has ${text.length})`
        : first.keyword === 'pattern' && text !== undefined ? `${JSON.stringify(text.slice(0, 80))} is not of the required form` : first.message;
    return `${fieldName(record.kind, segs)} ${detail}`;
  }).join('; ');
}

function valueAt(v: unknown, segs: string[]): unknown {
  return segs.reduce<unknown>((o, s) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[s] : undefined), v);
}

/** Where the record moved a field of the Kubernetes object (prefix → the object's own path). */
const MOVED: Record<string, Array<[string, string]>> = {
  ingress: [['spec.annotations', 'metadata.annotations'], ['spec.className', 'spec.ingressClassName']],
  service: [['spec.annotations', 'metadata.annotations'], ['spec.loadBalancerIngress', 'status.loadBalancer.ingress']],
  ingressclass: [['spec.annotations', 'metadata.annotations']],
  endpoints: [],
};

/** A record field as the owner knows it: `spec.rules[0].http.paths[2].path`, `metadata.annotations['ingressfed.io/x']`. */
function fieldName(kind: ObjectRecord['kind'], segs: string[]): string {
  let out = segs.map((s) => (/^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_]\w*$/.test(s) ? `.${s}` : `['${s}']`)).join('').replace(/^\./, '');
  if (/^(name|namespace)\b/.test(out)) return `metadata.${out}`;
  for (const [from, to] of MOVED[kind] ?? []) if (out === from || out.startsWith(`${from}.`) || out.startsWith(`${from}[`)) out = to + out.slice(from.length);
  return kind === 'ingress' ? out.replace(/^(spec\.rules\[\d+\])\.paths/, '$1.http.paths') : out;
}
