// The test harness: real nats-server, redis-server, HAProxy (through the local Data Plane API
// server) and echo backends on loopback, each started in a temporary directory and stopped in bounded time.
export type { NatsServer } from './nats.js';
export { startNats } from './nats.js';
export type { RedisServer } from './redis.js';
export { startRedis } from './redis.js';
export type { LocalDataPlane } from './dataplane.js';
export { startLocalDataPlane } from './dataplane.js';
export type { EchoReply, EchoServer } from './echo.js';
export { startEchoServer } from './echo.js';
export type { HttpAnswer } from './http.js';
export { httpRequest } from './http.js';
export { ManagedProcess } from './process.js';
export { freePort } from './ports.js';
export { tempDir } from './tmp.js';
export { waitFor } from './wait.js';
export type { KubeCluster, KubectlResult } from './kube.js';
export { kubectlBin, startKubeApi } from './kube.js';
export { KubeApiServer } from '../kube/server.js';
export { EchoFleet } from './echo-fleet.js';
export type { FederatedCluster, FederatedEdge, Federation, FederationOptions } from './federation.js';
export { startFederation } from './federation.js';
export type { LoadResult, LoadSummary, Prober } from './load.js';
export { runLoad, startProber } from './load.js';
export type { CertFiles, TestCa } from './certs.js';
export { makeTestCa } from './certs.js';
