import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeApiServer, type KubeApiOptions } from '../kube/server.js';
import { tempDir } from './tmp.js';

const PROJECT_KUBECTL = fileURLToPath(new URL('../../../.tools/bin/kubectl', import.meta.url));

/** The kubectl the project installs (scripts/setup.sh), else the one on PATH. */
export const kubectlBin = (): string => process.env.INGRESSFED_KUBECTL ?? (existsSync(PROJECT_KUBECTL) ? PROJECT_KUBECTL : 'kubectl');

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubeCluster {
  api: KubeApiServer;
  kubeconfig: string;
  /** Runs the real kubectl against this cluster. */
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  stop(): Promise<void>;
}

/** A Kubernetes API stand-in on a free loopback port, with a kubeconfig for it. */
export async function startKubeApi(name = 'standin', opts: KubeApiOptions = {}): Promise<KubeCluster> {
  const api = new KubeApiServer(opts);
  await api.start();
  const dir = tempDir(`kube-${name}`);
  const kubeconfig = join(dir.path, 'kubeconfig');
  api.writeKubeconfig(kubeconfig, name);
  return {
    api,
    kubeconfig,
    kubectl: (args, input) => new Promise((resolve) => {
      const child = execFile(kubectlBin(), args, { env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 20_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
    }),
    async stop() {
      await api.stop();
      dir.remove();
    },
  };
}
