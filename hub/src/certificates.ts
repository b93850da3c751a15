import type { KeyObject } from 'node:crypto';
import { certificateCovers, checkCertificate, openSealed, type IngressRecord, type SecretRecord } from '@ingressfed/schemas';

// The TLS certificates the clusters publish, as the hub judges them: each Secret record's key is
// opened with the hub's sealing keys and checked against its certificate, and every Ingress TLS
// entry is matched with its Secret. Opening a key is done once per version of a record.

/** Certificates expiring within this many days are listed as expiring soon. */
export const EXPIRY_WARNING_DAYS = 14;

export interface CertificateUse {
  /** namespace/name of the Ingress. */
  ingress: string;
  hosts: string[];
  /** Hosts of the TLS entry the certificate does not cover. */
  uncovered: string[];
}

export interface CertificateView {
  cluster: string;
  namespace: string;
  /** The Secret's name. */
  name: string;
  /** valid: servable now; invalid: why in `problem`; missing: named by an Ingress, not published. */
  state: 'valid' | 'invalid' | 'missing';
  problem: string | null;
  subject: string | null;
  issuer: string | null;
  dnsNames: string[];
  notBefore: number | null;
  notAfter: number | null;
  usedBy: CertificateUse[];
}

interface Opened {
  /** What the result was computed from: the record's certificate and sealed key. */
  from: string;
  keyPem?: string;
  problem?: string;
}

export class CertificateBook {
  private readonly opened = new Map<string, Opened>();

  constructor(private readonly sealingKeys: readonly KeyObject[]) {}

  /** The private key (PEM) of a Secret record, opened with the hub's keys, or why it cannot be. */
  private open(r: SecretRecord): Opened {
    const id = `${r.cluster}/${r.namespace}/${r.name}`;
    const from = `${r.spec.certificate}\n${r.spec.key.ct}`;
    const cached = this.opened.get(id);
    if (cached?.from === from) return cached;
    let out: Opened;
    if (this.sealingKeys.length === 0) out = { from, problem: 'the hub holds no sealing key (hub.json: sealingKeyFiles), so it cannot open TLS keys' };
    else {
      try {
        out = { from, keyPem: openSealed(r.spec.key, this.sealingKeys, { cluster: r.cluster, namespace: r.namespace, name: r.name }).toString('utf8') };
      } catch (err) {
        out = { from, problem: (err as Error).message };
      }
    }
    this.opened.set(id, out);
    return out;
  }

  /** Forgets the keys of Secrets no longer published. */
  private prune(present: Set<string>): void {
    for (const id of this.opened.keys()) if (!present.has(id)) this.opened.delete(id);
  }

  /** Every Secret record and every Ingress TLS entry, judged at `now`. */
  views(secrets: Iterable<SecretRecord>, ingresses: Iterable<IngressRecord>, now = Date.now()): CertificateView[] {
    const byId = new Map<string, CertificateView & { leaf?: Parameters<typeof certificateCovers>[0] }>();
    for (const r of secrets) {
      const id = `${r.cluster}/${r.namespace}/${r.name}`;
      const opened = this.open(r);
      const checked = opened.keyPem === undefined ? undefined : checkCertificate(r.spec.certificate, opened.keyPem, now);
      const info = checked?.info;
      byId.set(id, {
        cluster: r.cluster, namespace: r.namespace, name: r.name,
        state: checked?.ok ? 'valid' : 'invalid', problem: opened.problem ?? (checked && !checked.ok ? checked.problem : null),
        subject: info?.subject ?? null, issuer: info?.issuer ?? null, dnsNames: info?.dnsNames ?? [],
        notBefore: info?.notBefore ?? null, notAfter: info?.notAfter ?? null, usedBy: [],
        ...(checked?.ok ? { leaf: checked.leaf } : {}),
      });
    }
    this.prune(new Set(byId.keys()));
    for (const ing of ingresses) {
      for (const t of ing.spec.tls) {
        if (!t.secretName) continue;
        const id = `${ing.cluster}/${ing.namespace}/${t.secretName}`;
        let v = byId.get(id);
        if (!v) {
          v = { cluster: ing.cluster, namespace: ing.namespace, name: t.secretName, state: 'missing', problem: 'no kubernetes.io/tls Secret of this name is published by the cluster (missing, of another type, or its spoke has no sealing key)', subject: null, issuer: null, dnsNames: [], notBefore: null, notAfter: null, usedBy: [] };
          byId.set(id, v);
        }
        const leaf = v.leaf;
        v.usedBy.push({ ingress: `${ing.namespace}/${ing.name}`, hosts: t.hosts, uncovered: leaf ? t.hosts.filter((h) => !certificateCovers(leaf, h)) : [] });
      }
    }
    return [...byId.values()].map(({ leaf: _leaf, ...v }) => v).sort((a, b) => `${a.cluster}/${a.namespace}/${a.name}`.localeCompare(`${b.cluster}/${b.namespace}/${b.name}`));
  }
}
