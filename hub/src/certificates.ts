import type { KeyObject } from 'node:crypto';
import { checkCertificate, openSealed, type IngressRecord, type SecretRecord } from '@ingressfed/schemas';
import { ingressKey } from './model/types.js';
import type { RefusedCertificate, ServableCertificate, TlsPlan } from './plan/tls.js';

// The TLS certificates the clusters publish, as the hub judges them: each Secret record's key is
// opened with the hub's sealing keys and checked against its certificate, and every Ingress TLS
// entry is matched with its Secret. Opening a key is done once per version of a record.

/** Certificates expiring within this many days are listed as expiring soon. */
export const EXPIRY_WARNING_DAYS = 14;

export interface CertificateUse {
  /** namespace/name of the Ingress. */
  ingress: string;
  hosts: string[];
  /** Hosts of the TLS entry not served with this certificate, and why (see planTls). */
  refused: Array<{ host: string; reason: string }>;
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
  /** The hosts HTTPS serves with this certificate (SNI). */
  serves: string[];
  usedBy: CertificateUse[];
}

/** A Secret record as judged: servable or why not, what was read of its certificate, and its opened key. */
export interface Judged {
  record: SecretRecord;
  verdict: ServableCertificate | RefusedCertificate;
  check?: ReturnType<typeof checkCertificate>;
  keyPem?: string;
}

interface Opened {
  /** What the result was computed from: the record's certificate and sealed key. */
  from: string;
  keyPem?: string;
  problem?: string;
  /** The certificate checked with the key, in a minute. */
  check?: { minute: number; result: ReturnType<typeof checkCertificate> };
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

  /** Each Secret record judged at `now`: servable, or why not; with what was read of its certificate. */
  judge(secrets: Iterable<SecretRecord>, now = Date.now()): Map<string, Judged> {
    const out = new Map<string, Judged>();
    for (const r of secrets) {
      const id = `${r.cluster}/${r.namespace}/${r.name}`;
      const opened = this.open(r);
      if (opened.keyPem === undefined) {
        out.set(id, { record: r, verdict: { id, problem: opened.problem ?? 'the key does not open' } });
        continue;
      }
      // Parsed once per version of the record and minute (validity depends on the time).
      const minute = Math.floor(now / 60_000);
      if (opened.check?.minute !== minute) opened.check = { minute, result: checkCertificate(r.spec.certificate, opened.keyPem, now) };
      const check = opened.check.result;
      out.set(id, { record: r, check, keyPem: opened.keyPem, verdict: check.ok ? { id, leaf: check.leaf, fingerprint: check.info.fingerprint } : { id, problem: check.problem } });
    }
    this.prune(new Set(out.keys()));
    return out;
  }

  /**
   * Every Secret record and every Ingress TLS entry, judged at `now`, with which hosts each
   * certificate serves and why any host of an entry is not served with it (from `plan`, see planTls).
   */
  views(secrets: Iterable<SecretRecord>, ingresses: Iterable<IngressRecord>, plan: TlsPlan, now = Date.now()): CertificateView[] {
    const judged = this.judge(secrets, now);
    const byId = new Map<string, CertificateView>();
    for (const [id, { record: r, verdict, check }] of judged) {
      const info = check?.info;
      byId.set(id, {
        cluster: r.cluster, namespace: r.namespace, name: r.name,
        state: 'problem' in verdict ? 'invalid' : 'valid', problem: 'problem' in verdict ? verdict.problem : null,
        subject: info?.subject ?? null, issuer: info?.issuer ?? null, dnsNames: info?.dnsNames ?? [],
        notBefore: info?.notBefore ?? null, notAfter: info?.notAfter ?? null,
        serves: plan.hosts.filter((h) => h.certificate === id).map((h) => h.host), usedBy: [],
      });
    }
    for (const ing of ingresses) {
      const key = ingressKey(ing);
      for (const t of ing.spec.tls) {
        if (!t.secretName) continue;
        const id = `${ing.cluster}/${ing.namespace}/${t.secretName}`;
        let v = byId.get(id);
        if (!v) {
          v = { cluster: ing.cluster, namespace: ing.namespace, name: t.secretName, state: 'missing', problem: 'no kubernetes.io/tls Secret of this name is published by the cluster (missing, of another type, or its spoke has no sealing key)', subject: null, issuer: null, dnsNames: [], notBefore: null, notAfter: null, serves: [], usedBy: [] };
          byId.set(id, v);
        }
        const refused = plan.refusals.filter((x) => x.ingress === key && t.hosts.includes(x.host)).map(({ host, reason }) => ({ host, reason }));
        v.usedBy.push({ ingress: `${ing.namespace}/${ing.name}`, hosts: t.hosts, refused });
      }
    }
    return [...byId.values()].sort((a, b) => `${a.cluster}/${a.namespace}/${a.name}`.localeCompare(`${b.cluster}/${b.namespace}/${b.name}`));
  }
}
