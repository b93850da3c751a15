import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeApiServer, type KubeApiOptions } from '../kube/server.js';
import { tempDir } from './tmp.js';

const PROJECT_KUBECTL = fileURLToPath(new URL('../../../.tools/bin/kubectl', import.meta.url));

/** The kubectl the project builds (scripts/setup.sh), else the one on PATH. */
export const kubectlBin = (): string => process.env.INGRESSFED_KUBECTL ?? (existsSync(PROJECT_KUBECTL) ? PROJECT_KUBECTL : 'kubectl');

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real kubectl with a kubeconfig; never rejects (the exit code says how it went). */
export function runKubectl(kubeconfig: string, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(kubectlBin(), args, { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** A Kubernetes API a test talks to: a real kube-apiserver (see kubernetes.ts) or the stand-in. */
export interface KubeCluster {
  kind: 'real' | 'standin';
  name: string;
  /** Its address (https for a real server). */
  server: string;
  /** An administrator's kubeconfig. */
  kubeconfig: string;
  /** The kubeconfig a spoke runs with: on a real server, the spoke's ServiceAccount (deploy/spoke's rights). */
  spokeKubeconfig: string;
  /** Runs the real kubectl as the administrator. */
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** Runs the real kubectl as the spoke. */
  kubectlAsSpoke(args: string[], input?: string): Promise<KubectlResult>;
  stop(): Promise<void>;
}

/** The stand-in, with its controls for what a real API server cannot be made to do on demand. */
export interface KubeStandIn extends KubeCluster {
  kind: 'standin';
  api: KubeApiServer;
}

/**
 * The project's Kubernetes API stand-in on a free loopback port, with a kubeconfig for it. Only for
 * the faults a real API server cannot be made to show on demand (410 Gone, stalled or unanswered
 * watches, lists emptied, the server gone, objects its validation would refuse): see docs/deploy.md.
 */
export async function startKubeStandIn(name = 'standin', opts: KubeApiOptions = {}): Promise<KubeStandIn> {
  const api = new KubeApiServer(opts);
  await api.start();
  const dir = tempDir(`kube-${name}`);
  const kubeconfig = join(dir.path, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, name);
  const kubectl = (args: string[], input?: string): Promise<KubectlResult> => runKubectl(kubeconfig, args, input);
  return {
    kind: 'standin',
    name,
    server: api.url,
    api,
    kubeconfig,
    spokeKubeconfig: kubeconfig,
    kubectl,
    kubectlAsSpoke: kubectl,
    async stop() {
      await api.stop();
      dir.remove();
    },
  };
}
