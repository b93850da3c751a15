#!/usr/bin/env bash
# Builds the real kube-apiserver, kubectl and etcd of one Kubernetes release from the Go module
# proxy (this module pins k8s.io/kubernetes and every k8s.io/* module it replaces), into a cache
# kept between runs and checkouts, and links them into .tools/bin. A second run with the same
# go.mod, go.sum and sources only links.
#
# To move to another release: set K and S below, then run
#   go mod edit -require=k8s.io/kubernetes@$K
#   for m in $(curl -s https://proxy.golang.org/k8s.io/kubernetes/@v/$K.mod | grep -E '^\s*k8s.io/.* v0.0.0$' | awk '{print $1}'); do
#     go mod edit -replace=$m=$m@$S; done
#   go mod tidy
# (k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with its own
# directories, which a module that depends on it does not see; the matching v0.x.y releases stand in.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! command -v go >/dev/null 2>&1; then
  echo "building the Kubernetes API server needs the Go toolchain (go 1.24 or newer)" >&2
  exit 1
fi

key=$(cat "$here/go.mod" "$here/go.sum" "$here/cmd/etcd/main.go" "$here/tools.go" "$here/build.sh" | sha256sum | cut -c1-16)
cache="${INGRESSFED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ingressfed}/kubernetes-$key"
programs=(kube-apiserver kubectl etcd)
if [ ! -x "$cache/etcd" ] || [ ! -x "$cache/kube-apiserver" ] || [ ! -x "$cache/kubectl" ]; then
  echo "building kube-apiserver, kubectl and etcd into $cache (a few minutes the first time)"
  mkdir -p "$cache.tmp"
  # The release's own version, as Kubernetes' release build stamps it (kubectl version shows it).
  version=$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  minor=$(echo "$version" | cut -d. -f2)
  ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$here" && GOFLAGS=-buildvcs=false go build -trimpath -ldflags "$ldflags" -o "$cache.tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl ./cmd/etcd)
  rm -rf "$cache"
  mv "$cache.tmp" "$cache"
fi
mkdir -p "$root/.tools/bin"
for p in "${programs[@]}"; do ln -sf "$cache/$p" "$root/.tools/bin/$p"; done
