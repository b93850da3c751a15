// @ingressfed/dataplane/local: the local Data Plane API server and its HAProxy helpers.
export type { LocalServerOptions } from './server.js';
export { LocalDataPlaneServer } from './server.js';
export type { HaproxyProc, ProcState } from './master-cli.js';
export { parseShowProc, showProc } from './master-cli.js';
export { socketCommand } from './unix-socket.js';
export { renderConfig, unsupportedFields } from './render.js';
export type { ConfigModel } from './model.js';
