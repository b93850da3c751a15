// @ingressfed/hub/internal: parts of the hub the project's own tests and tools use directly; not a
// stable interface.
export { MODEL_BACKENDS_KEY, MODEL_ROUTES_KEY, RedisStore } from './store/redis-store.js';
export { EndpointPolicy } from './model/endpoint-policy.js';
export { selfSignedCertificate } from './self-signed.js';
