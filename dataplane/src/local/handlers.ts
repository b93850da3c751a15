import { hostname, cpus, freemem, totalmem, uptime, type as osType, release } from 'node:os';
import { badRequest, notImplemented } from './api-error.js';
import type { MapEntry, RuntimeServer, Server } from './model.js';
import type { FormPart, FormParts } from './multipart.js';
import * as r from './resources.js';
import { DataPlaneService, type Reply, type WriteQuery } from './service.js';
import type { ServedOperationId } from './served-operation-ids.js';
import type { StorageQuery } from './tls-storage.js';
import type { TransactionStatus } from './transaction-store.js';

type Obj = Record<string, unknown>;

export interface HandlerContext {
  svc: DataPlaneService;
  /** Path and query parameters, converted to their declared types. */
  p: Record<string, unknown>;
  body: unknown;
  /** The request body as text, for text/plain operations. */
  text: string;
}

export type Handler = (ctx: HandlerContext) => Promise<Reply> | Reply;

const str = (ctx: HandlerContext, name: string): string => String(ctx.p[name]);
const int = (ctx: HandlerContext, name: string): number => {
  const v = Number(ctx.p[name]);
  if (!Number.isInteger(v)) throw badRequest(`parameter ${name} must be an integer`);
  return v;
};
const wq = (ctx: HandlerContext): WriteQuery => ({
  transaction_id: ctx.p.transaction_id as string | undefined,
  version: ctx.p.version as number | undefined,
  force_reload: ctx.p.force_reload as boolean | undefined,
});
const obj = (ctx: HandlerContext): Obj => ctx.body as Obj;
const forceSync = (ctx: HandlerContext): boolean => ctx.p.force_sync === true;
const storageQuery = (ctx: HandlerContext): StorageQuery => ({ skip_reload: ctx.p.skip_reload === true, force_reload: ctx.p.force_reload === true });
const upload = (ctx: HandlerContext): FormPart | undefined => (ctx.body as FormParts | undefined)?.file_upload;

function read(ctx: HandlerContext, fn: (m: ReturnType<DataPlaneService['readModel']>['model']) => unknown): Reply {
  const { model, version } = ctx.svc.readModel(ctx.p.transaction_id as string | undefined);
  return { status: 200, body: fn(model), version };
}

function sectionHandlers(kind: r.SectionKind, schema: string): Record<string, Handler> {
  const full = (ctx: HandlerContext): boolean => ctx.p.full_section === true;
  return {
    list: (ctx) => read(ctx, (m) => r.listSections(m, kind, full(ctx))),
    get: (ctx) => read(ctx, (m) => r.getSection(m, kind, str(ctx, 'name'), full(ctx))),
    create: (ctx) => {
      DataPlaneService.requireSupported(schema, obj(ctx));
      return ctx.svc.write(wq(ctx), 'create', (m) => r.createSection(m, kind, obj(ctx), full(ctx)));
    },
    replace: (ctx) => {
      DataPlaneService.requireSupported(schema, obj(ctx));
      return ctx.svc.write(wq(ctx), 'replace', (m) => r.replaceSection(m, kind, str(ctx, 'name'), obj(ctx), full(ctx)));
    },
    delete: (ctx) => ctx.svc.write(wq(ctx), 'delete', (m) => r.deleteSection(m, kind, str(ctx, 'name'))),
  };
}

function namedHandlers(c: r.NamedChild, schema: string): Record<string, Handler> {
  return {
    list: (ctx) => read(ctx, (m) => r.listNamed(m, c, str(ctx, 'parent_name'))),
    get: (ctx) => read(ctx, (m) => r.getNamed(m, c, str(ctx, 'parent_name'), str(ctx, 'name'))),
    create: (ctx) => {
      DataPlaneService.requireSupported(schema, obj(ctx));
      return ctx.svc.write(wq(ctx), 'create', (m) => r.createNamed(m, c, str(ctx, 'parent_name'), obj(ctx)));
    },
    replace: (ctx) => {
      DataPlaneService.requireSupported(schema, obj(ctx));
      const op = (m: Parameters<typeof r.replaceNamed>[0]): Obj => r.replaceNamed(m, c, str(ctx, 'parent_name'), str(ctx, 'name'), obj(ctx));
      if (c.key === 'servers') {
        return ctx.svc.replaceServerAtVersion(wq(ctx), str(ctx, 'parent_name'), str(ctx, 'name'), obj(ctx) as Server, op);
      }
      return ctx.svc.write(wq(ctx), 'replace', op);
    },
    delete: (ctx) => ctx.svc.write(wq(ctx), 'delete', (m) => r.deleteNamed(m, c, str(ctx, 'parent_name'), str(ctx, 'name'))),
  };
}

function listHandlers(c: r.ListChild, schema: string): Record<string, Handler> {
  return {
    getAll: (ctx) => read(ctx, (m) => {
      const name = ctx.p.acl_name as string | undefined;
      return r.getList(m, c, str(ctx, 'parent_name'), name === undefined ? undefined : (o) => o.acl_name === name);
    }),
    replaceAll: (ctx) => {
      const items = ctx.body as Obj[];
      for (const item of items) DataPlaneService.requireSupported(schema, item);
      return ctx.svc.write(wq(ctx), 'replace', (m) => r.replaceList(m, c, str(ctx, 'parent_name'), items));
    },
    get: (ctx) => read(ctx, (m) => r.getListItem(m, c, str(ctx, 'parent_name'), int(ctx, 'index'))),
    create: (ctx) => {
      DataPlaneService.requireSupported(schema, obj(ctx));
      return ctx.svc.write(wq(ctx), 'create', (m) => r.insertListItem(m, c, str(ctx, 'parent_name'), int(ctx, 'index'), obj(ctx)));
    },
    replace: (ctx) => {
      DataPlaneService.requireSupported(schema, obj(ctx));
      return ctx.svc.write(wq(ctx), 'replace', (m) => r.replaceListItem(m, c, str(ctx, 'parent_name'), int(ctx, 'index'), obj(ctx)));
    },
    delete: (ctx) => ctx.svc.write(wq(ctx), 'delete', (m) => r.deleteListItem(m, c, str(ctx, 'parent_name'), int(ctx, 'index'))),
  };
}

const fe = sectionHandlers('frontends', 'frontend');
const be = sectionHandlers('backends', 'backend');
const binds = namedHandlers({ kind: 'frontends', key: 'binds', label: 'bind' }, 'bind');
const servers = namedHandlers({ kind: 'backends', key: 'servers', label: 'server' }, 'server');
const feAcls = listHandlers({ kind: 'frontends', key: 'acl_list', label: 'acl' }, 'acl');
const beAcls = listHandlers({ kind: 'backends', key: 'acl_list', label: 'acl' }, 'acl');
const switching = listHandlers({ kind: 'frontends', key: 'backend_switching_rule_list', label: 'backend switching rule' }, 'backend_switching_rule');
const feHttpReq = listHandlers({ kind: 'frontends', key: 'http_request_rule_list', label: 'http request rule' }, 'http_request_rule');
const beHttpReq = listHandlers({ kind: 'backends', key: 'http_request_rule_list', label: 'http request rule' }, 'http_request_rule');
const checks = listHandlers({ kind: 'backends', key: 'http_check_list', label: 'http check' }, 'http_check');

const startedAt = new Date();

export const HANDLERS: Record<ServedOperationId, Handler> = {
  getHAProxyConfiguration: (ctx) => {
    const { text, version } = ctx.svc.configText(ctx.p.transaction_id as string | undefined);
    return { status: 200, text, version };
  },
  postHAProxyConfiguration: async (ctx) => {
    // Only validation is served: the local server's configuration is written through the API's objects.
    if (ctx.p.only_validate !== true) throw notImplemented('POST /services/haproxy/configuration/raw is served with only_validate=true only');
    if (!ctx.text.includes('\n')) throw badRequest('the configuration must contain a newline');
    const check = await ctx.svc.checkText(ctx.text);
    if (!check.ok) throw badRequest(`validation error: ${check.output}`);
    return { status: 202, text: 'configuration is valid' };
  },
  getInfo: () => ({
    status: 200,
    body: {
      // dataplaneapi answers '<tag> <commit>'; this server implements the v3.4 semantics (a subset).
      api: { version: 'v3.4.0 ingressfed-local', build_date: startedAt.toISOString() },
      system: {
        hostname: hostname(),
        os_string: `${osType()} ${release()}`,
        cpu_info: { model: cpus()[0]?.model ?? 'unknown', num_cpus: cpus().length },
        mem_info: { total_memory: totalmem(), free_memory: freemem(), dataplaneapi_memory: process.memoryUsage().rss },
        time: Date.now(),
        uptime: Math.floor(uptime()),
      },
    },
  }),
  getHealth: (ctx) => ({ status: 200, body: { haproxy: ctx.svc.haproxy.running ? 'up' : 'down' } }),
  getConfigurationVersion: (ctx) => {
    const { version } = ctx.svc.readModel(ctx.p.transaction_id as string | undefined);
    return { status: 200, body: version, version };
  },
  getTransactions: (ctx) => ctx.svc.listTransactions(ctx.p.status as TransactionStatus | undefined),
  startTransaction: (ctx) => ctx.svc.startTransaction(int(ctx, 'version')),
  getTransaction: (ctx) => ctx.svc.getTransaction(str(ctx, 'id')),
  commitTransaction: (ctx) => ctx.svc.commitTransaction(str(ctx, 'id'), ctx.p.force_reload === true),
  deleteTransaction: (ctx) => ctx.svc.deleteTransaction(str(ctx, 'id')),
  getReloads: (ctx) => ({ status: 200, body: ctx.svc.reloads.list() }),
  getReload: (ctx) => ({ status: 200, body: ctx.svc.getReload(str(ctx, 'id')) }),

  getFrontends: fe.list as Handler, createFrontend: fe.create as Handler, getFrontend: fe.get as Handler,
  replaceFrontend: fe.replace as Handler, deleteFrontend: fe.delete as Handler,
  getAllBindFrontend: binds.list as Handler, createBindFrontend: binds.create as Handler, getBindFrontend: binds.get as Handler,
  replaceBindFrontend: binds.replace as Handler, deleteBindFrontend: binds.delete as Handler,
  getAllAclFrontend: feAcls.getAll as Handler, replaceAllAclFrontend: feAcls.replaceAll as Handler, getAclFrontend: feAcls.get as Handler,
  createAclFrontend: feAcls.create as Handler, replaceAclFrontend: feAcls.replace as Handler, deleteAclFrontend: feAcls.delete as Handler,
  getBackendSwitchingRules: switching.getAll as Handler, replaceBackendSwitchingRules: switching.replaceAll as Handler,
  getBackendSwitchingRule: switching.get as Handler, createBackendSwitchingRule: switching.create as Handler,
  replaceBackendSwitchingRule: switching.replace as Handler, deleteBackendSwitchingRule: switching.delete as Handler,
  getAllHTTPRequestRuleFrontend: feHttpReq.getAll as Handler, replaceAllHTTPRequestRuleFrontend: feHttpReq.replaceAll as Handler,
  getHTTPRequestRuleFrontend: feHttpReq.get as Handler, createHTTPRequestRuleFrontend: feHttpReq.create as Handler,
  replaceHTTPRequestRuleFrontend: feHttpReq.replace as Handler, deleteHTTPRequestRuleFrontend: feHttpReq.delete as Handler,

  getBackends: be.list as Handler, createBackend: be.create as Handler, getBackend: be.get as Handler,
  replaceBackend: be.replace as Handler, deleteBackend: be.delete as Handler,
  getAllServerBackend: servers.list as Handler, createServerBackend: servers.create as Handler, getServerBackend: servers.get as Handler,
  replaceServerBackend: servers.replace as Handler, deleteServerBackend: servers.delete as Handler,
  getAllAclBackend: beAcls.getAll as Handler, replaceAllAclBackend: beAcls.replaceAll as Handler, getAclBackend: beAcls.get as Handler,
  createAclBackend: beAcls.create as Handler, replaceAclBackend: beAcls.replace as Handler, deleteAclBackend: beAcls.delete as Handler,
  getAllHTTPRequestRuleBackend: beHttpReq.getAll as Handler, replaceAllHTTPRequestRuleBackend: beHttpReq.replaceAll as Handler,
  getHTTPRequestRuleBackend: beHttpReq.get as Handler, createHTTPRequestRuleBackend: beHttpReq.create as Handler,
  replaceHTTPRequestRuleBackend: beHttpReq.replace as Handler, deleteHTTPRequestRuleBackend: beHttpReq.delete as Handler,
  getAllHTTPCheckBackend: checks.getAll as Handler, replaceAllHTTPCheckBackend: checks.replaceAll as Handler,
  getHTTPCheckBackend: checks.get as Handler, createHTTPCheckBackend: checks.create as Handler,
  replaceHTTPCheckBackend: checks.replace as Handler, deleteHTTPCheckBackend: checks.delete as Handler,

  getAllRuntimeServer: async (ctx) => ({ status: 200, body: await ctx.svc.runtime.listServers(str(ctx, 'parent_name')) }),
  getRuntimeServer: async (ctx) => ({ status: 200, body: await ctx.svc.runtime.getServer(str(ctx, 'parent_name'), str(ctx, 'name')) }),
  getStats: async (ctx) => ({
    status: 200,
    body: await ctx.svc.runtime.stats({ type: ctx.p.type as string | undefined, name: ctx.p.name as string | undefined, parent: ctx.p.parent as string | undefined }),
  }),
  replaceRuntimeServer: async (ctx) => ({
    status: 200,
    body: await ctx.svc.runtime.replaceServer(str(ctx, 'parent_name'), str(ctx, 'name'), ctx.body as RuntimeServer),
  }),

  getAllStorageMapFiles: (ctx) => ({ status: 200, body: ctx.svc.maps.list() }),
  createStorageMapFile: (ctx) => {
    const upload = (ctx.body as FormParts | undefined)?.file_upload;
    if (upload?.filename === undefined) throw badRequest('a file_upload part with a filename is required');
    // A file alone changes nothing until a configuration names it: no reload, as dataplaneapi.
    return { status: 201, body: ctx.svc.maps.create(upload.filename, upload.data) };
  },
  getOneStorageMap: (ctx) => ({ status: 200, data: ctx.svc.maps.read(str(ctx, 'name')) }),
  replaceStorageMapFile: (ctx) => ctx.svc.replaceStorageMap(str(ctx, 'name'), ctx.text,
    { skip_reload: ctx.p.skip_reload === true, force_reload: ctx.p.force_reload === true }),
  deleteStorageMap: (ctx) => ctx.svc.deleteStorageMap(str(ctx, 'name')),

  getAllStorageSSLCertificates: (ctx) => ctx.svc.tls.listCertificates(),
  createStorageSSLCertificate: (ctx) => ctx.svc.tls.createCertificate(upload(ctx), storageQuery(ctx)),
  getOneStorageSSLCertificate: (ctx) => ctx.svc.tls.getCertificate(str(ctx, 'name')),
  replaceStorageSSLCertificate: (ctx) => ctx.svc.tls.replaceCertificate(str(ctx, 'name'), ctx.text, storageQuery(ctx)),
  deleteStorageSSLCertificate: (ctx) => ctx.svc.tls.deleteCertificate(str(ctx, 'name'), storageQuery(ctx)),
  getAllStorageSSLCrtListFiles: (ctx) => ctx.svc.tls.listCrtLists(),
  createStorageSSLCrtListFile: (ctx) => ctx.svc.tls.createCrtList(upload(ctx), ctx.p.force_reload === true),
  getOneStorageSSLCrtListFile: (ctx) => ctx.svc.tls.getCrtList(str(ctx, 'name')),
  replaceStorageSSLCrtListFile: (ctx) => ctx.svc.tls.replaceCrtList(str(ctx, 'name'), ctx.text, storageQuery(ctx)),
  deleteStorageSSLCrtListFile: (ctx) => ctx.svc.tls.deleteCrtList(str(ctx, 'name'), storageQuery(ctx)),

  getAllRuntimeMapFiles: async (ctx) => ({ status: 200, body: await ctx.svc.runtimeMaps.list(ctx.p.include_unmanaged === true) }),
  getOneRuntimeMap: async (ctx) => ({ status: 200, body: await ctx.svc.runtimeMaps.get(str(ctx, 'name')) }),
  addPayloadRuntimeMap: async (ctx) => ({
    status: 201,
    body: await ctx.svc.runtimeMaps.addPayload(str(ctx, 'name'), ctx.body as MapEntry[], forceSync(ctx)),
  }),
  clearRuntimeMap: async (ctx) => {
    await ctx.svc.runtimeMaps.clear(str(ctx, 'name'), ctx.p.forceDelete === true, forceSync(ctx));
    return { status: 204 };
  },
  showRuntimeMap: async (ctx) => ({ status: 200, body: await ctx.svc.runtimeMaps.entries(str(ctx, 'parent_name')) }),
  addMapEntry: async (ctx) => ({
    status: 201,
    body: await ctx.svc.runtimeMaps.add(str(ctx, 'parent_name'), ctx.body as MapEntry, forceSync(ctx)),
  }),
  getRuntimeMapEntry: async (ctx) => ({ status: 200, body: await ctx.svc.runtimeMaps.entry(str(ctx, 'parent_name'), str(ctx, 'id')) }),
  replaceRuntimeMapEntry: async (ctx) => ({
    status: 200,
    body: await ctx.svc.runtimeMaps.replace(str(ctx, 'parent_name'), str(ctx, 'id'), String(obj(ctx).value), forceSync(ctx)),
  }),
  deleteRuntimeMapEntry: async (ctx) => {
    await ctx.svc.runtimeMaps.delete(str(ctx, 'parent_name'), str(ctx, 'id'), forceSync(ctx));
    return { status: 204 };
  },
};
