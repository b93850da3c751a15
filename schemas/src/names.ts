// Allowlists for every identifier and value that comes from a cluster. Spokes are untrusted: the hub
// applies these to everything it receives, whatever the Kubernetes API server already checked.

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A DNS-1123 label (namespaces, cluster names): lowercase, 1–63 characters. */
export function isDnsLabel(s: string): boolean {
  return DNS_LABEL.test(s);
}

/** A DNS-1123 subdomain (object names): labels of 1–63 characters, 253 in all. */
export function isDnsSubdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every(isDnsLabel);
}

/** Why a host is refused, or undefined when it is valid: DNS-1123, optional leading `*.`, no IP literal. */
export function hostProblem(host: string): string | undefined {
  if (host.length === 0) return 'is empty';
  if (host.length > 253) return `is ${host.length} characters long (at most 253)`;
  if (/[^\x21-\x7e]/.test(host)) return 'contains a character outside printable ASCII (use punycode for international names)';
  if (host !== host.toLowerCase()) return 'must be lowercase';
  const rest = host.startsWith('*.') ? host.slice(2) : host;
  if (rest.includes('*')) return "may only start with '*.' (a wildcard covers exactly one leading label)";
  const labels = rest.split('.');
  for (const l of labels) {
    if (l.length > 63) return `has a label of ${l.length} characters (at most 63)`;
    if (!isDnsLabel(l)) return `has an invalid label '${l.slice(0, 63)}' (letters, digits and '-' only, not at either end)`;
  }
  if (labels.every((l) => /^\d+$/.test(l))) return 'is an IP address, not a host name';
  return undefined;
}

const PATH_CHARS = /^\/[A-Za-z0-9/._~%:@!,+=-]*$/;

/**
 * Why an HTTP path of an Ingress rule is refused, or undefined when valid. The allowed characters
 * cannot end, quote, comment or split an HAProxy word, nor separate runtime API commands.
 */
export function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return "must start with '/'";
  if (path.length > 1024) return `is ${path.length} characters long (at most 1024)`;
  if (!PATH_CHARS.test(path)) return "contains a character outside A-Z a-z 0-9 / . _ ~ % : @ ! , + = -";
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) return "has a '%' that is not followed by two hex digits";
  if (/%(2f|5c|00)/i.test(path)) return 'encodes a slash, backslash or NUL';
  if (path.includes('//')) return "contains '//'";
  if (path.split('/').some((seg) => seg === '.' || seg === '..')) return "contains a '.' or '..' segment";
  return undefined;
}

/** Zones and regions: lowercase letters, digits, '-' and '.', 1–63 characters. */
export function isZoneName(s: string): boolean {
  return /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(s);
}
