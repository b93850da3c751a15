import { createHash, type X509Certificate } from 'node:crypto';
import { ANNOTATIONS, certificateCovers, type IngressRecord } from '@ingressfed/schemas';
import { ingressKey, type FederatedModel } from '../model/types.js';

// Which certificate each host is served with over HTTPS. Pure. A host gets a certificate from an
// Ingress that serves it (one of its routes' sources) and names, in spec.tls, a Secret whose valid
// certificate covers the host. When Ingresses of several clusters (or namespaces) serve a host with
// different certificates, the oldest Ingress wins, as for routes, and the others are told.

/** A certificate that may be served: checked, its key opened. */
export interface ServableCertificate {
  /** cluster/namespace/name of its Secret. */
  id: string;
  leaf: X509Certificate;
  /** SHA-256 fingerprint of the leaf. */
  fingerprint: string;
}

/** A Secret that cannot be served, and why. */
export interface RefusedCertificate {
  id: string;
  problem: string;
}

export interface TlsHost {
  host: string;
  /** The Secret (cluster/namespace/name) whose certificate the host is served with. */
  certificate: string;
  /** The Ingress (cluster/namespace/name) it comes from. */
  ingress: string;
  /** Plain HTTP requests to the host are redirected to HTTPS (that Ingress's ingressfed.io/ssl-redirect, default true). */
  redirect: boolean;
}

/** A host of an Ingress's spec.tls that is not served with that Ingress's certificate, and why. */
export interface TlsRefusal {
  ingress: string;
  host: string;
  reason: string;
}

export interface TlsPlan {
  hosts: TlsHost[];
  refusals: TlsRefusal[];
}

/** The file an edge stores a certificate in: a name made from its Secret's identity, never from text a cluster wrote. */
export function certificateFileName(id: string): string {
  return `ifed_${createHash('sha256').update(id).digest('hex').slice(0, 24)}.pem`;
}

interface Candidate { host: string; cert: ServableCertificate; ingress: string; created: string; redirect: boolean }

export function planTls(model: FederatedModel, ingresses: Iterable<IngressRecord>, certs: ReadonlyMap<string, ServableCertificate | RefusedCertificate>): TlsPlan {
  const servedBy = new Map<string, Set<string>>();
  for (const r of model.routes) {
    let set = servedBy.get(r.host);
    if (!set) servedBy.set(r.host, (set = new Set()));
    for (const s of r.sources) set.add(ingressKey(s));
  }
  const refusals: TlsRefusal[] = [];
  const candidates = new Map<string, Candidate[]>();
  for (const ing of ingresses) {
    const key = ingressKey(ing);
    if (model.ingresses.get(key)?.state !== 'accepted') continue;
    for (const t of ing.spec.tls) {
      for (const host of t.hosts) {
        const refuse = (reason: string): void => {
          refusals.push({ ingress: key, host, reason });
        };
        if (!servedBy.get(host)?.has(key)) {
          refuse(`this Ingress serves no route of host ${host} (no rule for it, or another Ingress won it)`);
          continue;
        }
        if (!t.secretName) {
          refuse('no secretName: HTTPS needs a certificate');
          continue;
        }
        const cert = certs.get(`${ing.cluster}/${ing.namespace}/${t.secretName}`);
        if (!cert) refuse(`Secret ${ing.namespace}/${t.secretName} is not published (missing, not of type kubernetes.io/tls, or the spoke has no sealing key)`);
        else if ('problem' in cert) refuse(`Secret ${ing.namespace}/${t.secretName}: ${cert.problem}`);
        else if (!certificateCovers(cert.leaf, host)) refuse(`the certificate of Secret ${ing.namespace}/${t.secretName} does not cover ${host}`);
        else {
          const list = candidates.get(host) ?? [];
          list.push({ host, cert, ingress: key, created: ing.source.creationTimestamp, redirect: ing.spec.annotations[ANNOTATIONS.sslRedirect] !== 'false' });
          candidates.set(host, list);
        }
      }
    }
  }
  const hosts: TlsHost[] = [];
  for (const [host, list] of candidates) {
    list.sort((a, b) => a.created.localeCompare(b.created) || a.ingress.localeCompare(b.ingress));
    const winner = list[0] as Candidate;
    hosts.push({ host, certificate: winner.cert.id, ingress: winner.ingress, redirect: winner.redirect });
    for (const c of list.slice(1)) {
      if (c.cert.fingerprint !== winner.cert.fingerprint) {
        refusals.push({ ingress: c.ingress, host, reason: `host ${host} is served with the certificate of ${winner.ingress} (Secret ${winner.cert.id}), the oldest Ingress serving it with TLS` });
      }
    }
  }
  hosts.sort((a, b) => a.host.localeCompare(b.host));
  refusals.sort((a, b) => a.ingress.localeCompare(b.ingress) || a.host.localeCompare(b.host));
  return { hosts, refusals };
}
