import { badRequest } from './api-error.js';

// A crt-list, as HAProxy 2.6 reads it: one certificate per line,
//   <certificate file> [[<ssl options> ...]] [[!]<sni filter> ...]
// with `#` comment lines and empty lines ignored. Each line is checked here so an upload that HAProxy
// would refuse at its next reload is refused now, with the line that is wrong.

/** One certificate line of a crt-list (the spec's ssl_crt_list_entry). */
export interface CrtListEntry {
  /** 1-based line number in the file. */
  line_number: number;
  file: string;
  /** The options between the brackets, if any. */
  ssl_bind_config?: string;
  sni_filter: string[];
}

const LINE = /^([^\s[\]]+)(?:\s+\[([^[\]]*)\])?((?:\s+[^\s[\]]+)*)$/;
/** A host name or pattern: a leading `*.` (wildcard) and `!` (exclusion) as HAProxy accepts them. */
const SNI_FILTER = /^!?(?:\*\.)?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

function parseLine(raw: string, n: number): CrtListEntry | undefined {
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (CONTROL.test(text)) throw badRequest(`crt-list line ${n}: contains a control character`);
  const t = text.trim();
  if (t === '' || t.startsWith('#')) return undefined;
  const m = LINE.exec(t);
  if (!m) throw badRequest(`crt-list line ${n}: expected '<certificate file> [[ssl options]] [sni filters]', got '${clip(t)}'`);
  const entry: CrtListEntry = { line_number: n, file: m[1] as string, sni_filter: (m[3] ?? '').trim().split(/\s+/).filter(Boolean) };
  const options = m[2]?.trim();
  if (options) entry.ssl_bind_config = options;
  const bad = entry.sni_filter.find((f) => !SNI_FILTER.test(f));
  if (bad !== undefined) {
    throw badRequest(`crt-list line ${n}: SNI filter '${clip(bad)}' is not a host name (a leading '*.' or '!' is allowed)`);
  }
  return entry;
}

/** Parses a crt-list's text into its certificate lines, or throws a 400 naming the first bad line. */
export function parseCrtList(text: string): CrtListEntry[] {
  const out: CrtListEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const e = parseLine(raw, i + 1);
    if (e) out.push(e);
  });
  return out;
}

/**
 * Checks that every line names a certificate file of the storage directory by its full path (HAProxy
 * reads a relative path from its own working directory, which is not the storage directory).
 */
export function checkCrtListFiles(entries: readonly CrtListEntry[], dir: string, isStoredCertificate: (file: string) => boolean): void {
  for (const e of entries) {
    if (!isStoredCertificate(e.file)) {
      throw badRequest(`crt-list line ${e.line_number}: '${clip(e.file)}' is not a stored certificate: name one by its full path in ${dir} (the 'file' the storage answers)`);
    }
  }
}

const clip = (s: string): string => (s.length > 80 ? `${s.slice(0, 80)}…` : s).replace(/[^\x20-\x7e]/g, '?');
