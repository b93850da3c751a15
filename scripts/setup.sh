#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine with Node 20.19+ for ingressfed: system packages
# (haproxy, nats-server, redis-server, wrk, faketime, openssl, curl) when missing, the real
# Kubernetes API server, etcd and kubectl (built with Go), then the npm workspaces and their build.
set -euo pipefail
cd "$(dirname "$0")/.."

node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=19)?1:0)' 2>/dev/null || echo 0)
if [ "$node_ok" != 1 ]; then
  echo "ingressfed needs Node.js 20.19 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)  # load generator of the benchmarks
command -v faketime >/dev/null 2>&1 || missing+=(faketime)  # a spoke with a skewed clock (fault test F28)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)    # the test CAs, and the playground's
command -v curl >/dev/null 2>&1 || missing+=(curl)          # HTTPS checks as the README shows them
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# sed reads all its input: `head` could exit first and fail the pipeline with SIGPIPE (pipefail).
haproxy -v | sed -n 1p
nats-server --version
redis-server --version | cut -d' ' -f1-3

# The real kube-apiserver, etcd and kubectl of one Kubernetes release, built from the Go module
# proxy into a cache kept between runs (a few minutes the first time), linked into .tools/bin.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
if ! command -v go >/dev/null 2>&1; then
  echo "ingressfed's tests and playground build the Kubernetes API server: install Go 1.24 or newer (https://go.dev/dl/)" >&2
  exit 1
fi
bash tests/kubernetes/build.sh
.tools/bin/kubectl version --client | sed -n 1p

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# The installed programs run the compiled output.
npm run build --silent
