// @ingressfed/spoke: the cluster agent.
export type { SpokeOptions } from './spoke.js';
export { SPOKE_VERSION, Spoke } from './spoke.js';
export { RecordTracker } from './tracker.js';
export type { ClusterObjects, DesiredRecord, TranslateContext } from './translate.js';
export { desiredRecords, endpointsRecord, ingressRecord, isInClass, requestedClass, serviceRecord } from './translate.js';
export type { InformerHealth } from './informers.js';
