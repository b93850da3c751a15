// @ingressfed/hub: intake, merge, plan and apply.
export type { ApiToken, HubApi } from './api/server.js';
export { API_PREFIX, buildHubApi } from './api/server.js';
export { explain } from './api/views.js';
export type { ApplyOutcome, EdgeConfig } from './apply/edge.js';
export { EdgeApplier } from './apply/edge.js';
export type { HubConfig } from './config.js';
export { loadHubConfig } from './config.js';
export type { HubOptions } from './hub.js';
export { Hub } from './hub.js';
export type { Refusal } from './intake.js';
export { StateIntake } from './intake.js';
export { mergeClusters, parseFailover } from './model/merge.js';
export type * from './model/types.js';
export { backendKey, ingressKey } from './model/types.js';
export type { EdgePlan, EdgeTarget, PlannedBackend, PlannedSlot } from './plan/plan.js';
export { FRONTEND_NAME, NOT_FOUND_BACKEND, backendName, planEdge, routeOrder, splitByPolicy } from './plan/plan.js';
export { backendObject, frontendObject, sameStructure } from './plan/objects.js';
