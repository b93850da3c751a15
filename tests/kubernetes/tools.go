//go:build tools

// The programs this module builds (see build.sh): the real kube-apiserver and kubectl of one
// Kubernetes release, and etcd (cmd/etcd).
package kubernetes

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
