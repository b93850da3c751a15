import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { kubeConfigFor } from './spoke.js';

describe('kubeConfigFor: the kubeconfig given, else the in-cluster configuration', () => {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  afterEach(() => {
    for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('in a Pod: the API server from the service environment, the ServiceAccount\'s CA and token', () => {
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const kc = kubeConfigFor(undefined);
    assert.equal(kc.getCurrentCluster()?.server, 'https://10.96.0.1:443');
    assert.equal(kc.getCurrentCluster()?.caFile, '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt');
    assert.equal(kc.getCurrentUser()?.authProvider?.config?.tokenFile, '/var/run/secrets/kubernetes.io/serviceaccount/token');
  });

  it('outside a Pod without a kubeconfig: a clear error', () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    assert.throws(() => kubeConfigFor(undefined), /no kubeconfig given \(--kubeconfig or KUBECONFIG\) and not running in a Kubernetes Pod/);
  });
});
