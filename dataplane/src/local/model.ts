import type { components } from '../gen/dataplane-api.js';

type S = components['schemas'];
export type Frontend = S['frontend'];
export type Backend = S['backend'];
export type Bind = S['bind'];
export type Server = S['server'];
export type Acl = S['acl'];
export type BackendSwitchingRule = S['backend_switching_rule'];
export type HttpRequestRule = S['http_request_rule'];
export type HttpCheck = S['http_check'];
export type RuntimeServer = S['runtime_server'];
export type Transaction = S['transaction'];
export type Reload = S['reload'];
export type MapFile = S['map'];
export type MapEntry = S['map_entry'];
export type SslCertificate = S['ssl_certificate'];
export type SslCrtListFile = S['ssl_crt_list_file'];

/** The managed part of haproxy.cfg: sections in order, each in its `full_section` form. */
export interface ConfigModel {
  frontends: Frontend[];
  backends: Backend[];
}

/** A configuration and the version it is known by (the `# _version=N` line of haproxy.cfg). */
export interface VersionedConfig {
  version: number;
  model: ConfigModel;
}

export const emptyModel = (): ConfigModel => ({ frontends: [], backends: [] });

/**
 * A copy to change: the section lists are copied, the sections shared. Operations never change a
 * section in place; they replace it with a changed copy (resources.ts), so a copy costs one pointer
 * per section however large the configuration.
 */
export const cloneModel = (m: ConfigModel): ConfigModel => ({ frontends: [...m.frontends], backends: [...m.backends] });
