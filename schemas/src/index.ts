// @ingressfed/schemas: the records on the wire, their validators, key naming and the allowlists.
export { ANNOTATIONS, CONTROLLER } from './annotations.js';
export { Backoff } from './backoff.js';
export type { ErrorCode } from './errors.js';
export { ERROR_CODES, IngressfedError } from './errors.js';
export { hostProblem, isDnsLabel, isDnsSubdomain, isZoneName, pathProblem } from './names.js';
export type { RecordKind, StateKey } from './keys.js';
export {
  CLUSTER_SCOPED, DRAINS_BUCKET, HELD_BUCKET, RECORD_KINDS, STATE_BUCKET, STATUS_BUCKET,
  decodeToken, encodeToken, heartbeatKey, infoKey, isObjectKey, objectKey, parseStateKey, statusKey,
} from './keys.js';
export type {
  BackendRef, ClusterInfo, EndpointsRecord, EndpointsSpec, Heartbeat, IngressClassRecord, IngressClassSpec,
  IngressRecord, IngressSpec, IngressStatusRecord, ObjectRecord, SecretRecord, SecretSpec, ServiceRecord, ServiceSpec,
} from './records.js';
export { SCHEMA_VERSION, compareRevisions, validators } from './records.js';
export type { DecodeResult, DecodedEntry } from './decode.js';
export { MAX_RECORD_BYTES, decodeStateEntry } from './decode.js';
export type { SealBinding, Sealed } from './seal.js';
export { SEAL_ALG, newSealingKeyPair, openSealed, seal, sealKeyId, sealingPrivateKey, sealingPublicKey } from './seal.js';
export type { CertificateCheck, CertificateInfo } from './certificates.js';
export { MAX_CHAIN, certificateCovers, checkCertificate, parseChain } from './certificates.js';
