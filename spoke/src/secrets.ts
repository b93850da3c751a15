import type { KeyObject } from 'node:crypto';
import type { V1Ingress, V1Secret } from '@kubernetes/client-node';
import { SCHEMA_VERSION, seal, sealKeyId, type SecretRecord } from '@ingressfed/schemas';

// TLS Secrets → secret records. Only `kubernetes.io/tls` Secrets that an in-class Ingress names are
// published; the certificate travels as it is (public), the private key sealed to the hub's key
// (schemas/src/seal.ts), so that NATS and the state bucket hold ciphertext only.

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
/** The field selector the spoke lists Secrets with: it never reads Secrets of any other type. */
export const TLS_SECRET_SELECTOR = `type=${TLS_SECRET_TYPE}`;

/** The Secrets (namespace/name) an Ingress's spec.tls entries name, in the Ingress's namespace. */
export function secretsOf(ing: V1Ingress): string[] {
  const ns = ing.metadata?.namespace ?? 'default';
  return [...new Set((ing.spec?.tls ?? []).flatMap((t) => (t.secretName ? [`${ns}/${t.secretName}`] : [])))];
}

/**
 * Seals Secrets' private keys to the hub's public key, once per version of each Secret: sealing is
 * randomised, and a record must not change (nor be written again) while its Secret does not.
 */
export class KeySealer {
  private readonly sealed = new Map<string, { version: string; key: SecretRecord['spec']['key'] }>();
  readonly kid: string;

  constructor(private readonly hubKey: KeyObject, private readonly cluster: string) {
    this.kid = sealKeyId(hubKey);
  }

  /** The sealed tls.key of `secret` (undefined when it has none). */
  keyOf(secret: V1Secret): SecretRecord['spec']['key'] | undefined {
    const ns = secret.metadata?.namespace ?? 'default';
    const name = secret.metadata?.name ?? '';
    const id = `${ns}/${name}`;
    const version = `${secret.metadata?.uid ?? ''}/${secret.metadata?.resourceVersion ?? ''}`;
    const cached = this.sealed.get(id);
    if (cached?.version === version) return cached.key;
    const b64 = secret.data?.['tls.key'];
    if (!b64) return undefined;
    const key = seal(Buffer.from(b64, 'base64'), this.hubKey, { cluster: this.cluster, namespace: ns, name });
    this.sealed.set(id, { version, key });
    return key;
  }

  /** Forgets a Secret that is gone or no longer named. */
  forget(nsName: string): void {
    this.sealed.delete(nsName);
  }
}

/** The record of a TLS Secret, or undefined when it is not a `kubernetes.io/tls` Secret with both keys. */
export function secretRecord(secret: V1Secret, ctx: { cluster: string; epoch: string; now: number; revision: string }, sealer: KeySealer, source: SecretRecord['source']): SecretRecord | undefined {
  if (secret.type !== TLS_SECRET_TYPE) return undefined;
  const crt = secret.data?.['tls.crt'];
  const key = sealer.keyOf(secret);
  if (!crt || !key) return undefined;
  return {
    schema: SCHEMA_VERSION, cluster: ctx.cluster, kind: 'secret', epoch: ctx.epoch, observedAt: ctx.now, revision: ctx.revision,
    source, namespace: secret.metadata?.namespace ?? 'default', name: secret.metadata?.name ?? '',
    // Leading blank lines are common in hand-made PEM files; the hub checks the rest.
    spec: { certificate: Buffer.from(crt, 'base64').toString('utf8').trimStart(), key },
  };
}
