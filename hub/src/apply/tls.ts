import { X509Certificate } from 'node:crypto';
import type { DataPlaneClient } from '@ingressfed/dataplane';
import { selfSignedCertificate } from '../self-signed.js';

// The HTTPS side of an edge: certificate files in the Data Plane API's storage and one crt-list that
// picks a certificate by SNI. Certificates are replaced in place (HAProxy takes a stored certificate
// it has loaded at runtime, without a reload); the crt-list changes only when the set of
// certificates or hosts does, and takes effect at a reload. File names are made by the hub from the
// Secrets' identities, never from anything a cluster wrote.

/** Files the hub manages in the edge's certificate storage start with this. */
const MANAGED = 'ifed_';
/** The certificate for clients that name no host the edge serves: the operator's, or self-signed naming no host. */
export const DEFAULT_CERTIFICATE = 'ifed_default.pem';
export const CRT_LIST = 'ifed_hosts.crtlist';

/** What an edge should serve over HTTPS: certificate files (PEM: key, then chain) and the hosts each serves. */
export interface EdgeTls {
  files: ReadonlyMap<string, { pem: string; fingerprint: string }>;
  entries: ReadonlyArray<{ file: string; hosts: readonly string[] }>;
  /** Hosts whose plain HTTP requests are redirected to HTTPS. */
  redirects: readonly string[];
}

/** The hub's record of an edge's HTTPS files. */
export interface TlsState {
  /** Managed certificate files: name → stored path and SHA-256 fingerprint of the leaf (hex, no colons). */
  files: Map<string, { path: string; fingerprint: string }>;
  /** The crt-list: its stored path and text as last written or read. */
  crtList: { path: string; text: string } | undefined;
}

const plainFingerprint = (f: string): string => f.replaceAll(':', '').toUpperCase();

/** Reads the managed certificate files and the crt-list from the edge. */
export async function readTls(c: DataPlaneClient): Promise<TlsState> {
  const files = new Map<string, { path: string; fingerprint: string }>();
  for (const s of await c.listSslCertificates()) {
    const name = s.storage_name ?? '';
    if (!name.startsWith(MANAGED)) continue;
    const one = await c.getSslCertificate(name);
    files.set(name, { path: s.file ?? '', fingerprint: plainFingerprint(one.sha256_finger_print ?? '') });
  }
  const list = (await c.listCrtLists()).find((l) => l.storage_name === CRT_LIST);
  return { files, crtList: list ? { path: list.file ?? '', text: await c.getCrtListText(CRT_LIST) } : undefined };
}

/** The crt-list's text: the default certificate first (HAProxy's default), then each file with its hosts as SNI filters. */
function crtListText(state: TlsState, want: EdgeTls): string {
  const path = (name: string): string => {
    const p = state.files.get(name)?.path;
    if (!p) throw new Error(`certificate ${name} has no stored path on the edge`);
    return p;
  };
  const lines = [path(DEFAULT_CERTIFICATE), ...want.entries.map((e) => `${path(e.file)} ${e.hosts.join(' ')}`)];
  return `${lines.join('\n')}\n`;
}

/**
 * Brings the certificate files and the crt-list to `want`. Certificates go live at once (at runtime).
 * A changed crt-list is only stored: HAProxy reads it at the next reload, which the hub makes with a
 * transaction (the crt-list's text is part of the frontend's stamp), so that what changed at runtime
 * (map entries, slots) is written before it. Only its first creation reloads by itself (the Data
 * Plane API always does); `beforeReload` then writes what must survive a reload. Files no longer
 * wanted stay until pruneTls, once the configuration no longer names them.
 */
export async function syncTls(c: DataPlaneClient, state: TlsState, want: EdgeTls, defaultCertificate: { cert: string; key: string } | undefined,
  beforeReload: () => Promise<void>): Promise<number> {
  let writes = 0;
  const put = async (name: string, pem: string, fingerprint: string): Promise<void> => {
    const had = state.files.get(name);
    const w = had ? await c.replaceSslCertificate(name, pem) : await c.uploadSslCertificate(name, pem);
    writes++;
    if (w.reloadId) await c.waitForReload(w.reloadId);
    state.files.set(name, { path: w.value?.file ?? had?.path ?? '', fingerprint });
  };
  if (defaultCertificate) {
    // The operator's: replaced whenever it differs.
    const fingerprint = plainFingerprint(new X509Certificate(defaultCertificate.cert).fingerprint256);
    if (state.files.get(DEFAULT_CERTIFICATE)?.fingerprint !== fingerprint) await put(DEFAULT_CERTIFICATE, `${defaultCertificate.key.trimEnd()}\n${defaultCertificate.cert}`, fingerprint);
  } else if (!state.files.has(DEFAULT_CERTIFICATE)) {
    const d = selfSignedCertificate('ingressfed default certificate');
    await put(DEFAULT_CERTIFICATE, `${d.key}${d.cert}`, '');
  }
  for (const [name, f] of want.files) {
    const fingerprint = plainFingerprint(f.fingerprint);
    if (state.files.get(name)?.fingerprint !== fingerprint) await put(name, f.pem, fingerprint);
  }
  const text = crtListText(state, want);
  if (state.crtList?.text === text) return writes;
  writes++;
  if (state.crtList) {
    await c.replaceCrtList(CRT_LIST, text, { skipReload: true });
    state.crtList = { ...state.crtList, text };
    return writes;
  }
  await beforeReload();
  const w = await c.createCrtList(CRT_LIST, text);
  if (w.reloadId) await c.waitForReload(w.reloadId);
  if (!w.value?.file) throw new Error(`the edge did not say where it stores the crt-list ${CRT_LIST}`);
  state.crtList = { path: w.value.file, text };
  return writes;
}

/** Deletes managed certificate files the crt-list no longer names (after it changed). */
export async function pruneTls(c: DataPlaneClient, state: TlsState, want: EdgeTls): Promise<number> {
  let deleted = 0;
  for (const name of [...state.files.keys()]) {
    if (name === DEFAULT_CERTIFICATE || want.files.has(name)) continue;
    await c.deleteSslCertificate(name);
    state.files.delete(name);
    deleted++;
  }
  return deleted;
}
