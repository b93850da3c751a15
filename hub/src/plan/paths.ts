import type { Frontend } from './objects.js';

// Request path normalisation (architecture.md, "Request path normalisation"). The edge normalises
// every request path before routing and forwards the normalised path, so that the path a route is
// chosen on is the path its backend receives. A rule's path is put in the same form, so that it
// matches exactly the requests it would match if it were written that way. Pure.

type Rule = NonNullable<Frontend['http_request_rule_list']>[number];

/**
 * Paths refused with 400 before normalisation: an encoded slash, backslash or NUL (a backend that
 * decodes them sees other segments than the edge routed on), a backslash (some servers read it as
 * a slash), and a '%' not followed by two hex digits (it could hide a sequence that decodes later).
 * Single-quoted in haproxy.cfg, so the backslash reaches the regex as written.
 */
const REFUSED_PATH = "'%(2[Ff]|5[Cc]|00|[^0-9A-Fa-f]|.[^0-9A-Fa-f]|.?$)|\\\\'";

const normalize = (normalizer: Rule['normalizer'], full?: boolean): Rule =>
  ({ type: 'normalize-uri', normalizer, ...(full ? { normalizer_full: true } : {}) });

/**
 * The frontend's first request rules. The order matters: unreserved characters are decoded before
 * dot segments are looked for (`%2e%2e` is `..`), and slashes merged before `..` removes a segment.
 * The decoding is not strict: invalid sequences in the path are refused above, and those in the
 * query string are left to the backend.
 */
export function normalisationRules(): Rule[] {
  return [
    { type: 'deny', deny_status: 400, cond: 'if', cond_test: `{ path -m reg ${REFUSED_PATH} }` },
    normalize('percent-decode-unreserved'),
    normalize('percent-to-uppercase'),
    normalize('path-merge-slashes'),
    normalize('path-strip-dot'),
    normalize('path-strip-dotdot', true),
  ];
}

const UNRESERVED = /^[A-Za-z0-9._~-]$/;

/** Encoded unreserved characters decoded, the hex digits of the others in upper case (RFC 3986 §6.2.2). */
function normalisePercent(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
}

/** Empty and '.' segments dropped, '..' removing the segment before it (never above the root); a trailing slash kept. */
function normaliseSegments(path: string): string {
  const segments = path.slice(1).split('/');
  const kept: string[] = [];
  for (const s of segments) {
    if (s === '..') kept.pop();
    else if (s !== '' && s !== '.') kept.push(s);
  }
  const last = segments[segments.length - 1];
  const trailing = kept.length > 0 && (last === '' || last === '.' || last === '..');
  return `/${kept.join('/')}${trailing ? '/' : ''}`;
}

/**
 * A rule path as the edge sees requests: what HAProxy's normalize-uri steps make of it; a Prefix
 * path then loses a trailing slash again (except '/').
 */
export function normalisedPath(path: string, pathType: string): string {
  const p = normaliseSegments(normalisePercent(path));
  return pathType !== 'Exact' && p !== '/' && p.endsWith('/') ? p.slice(0, -1) : p;
}
