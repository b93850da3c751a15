#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then starts the playground until interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --conditions=ingressfed-source --import tsx tests/src/playground/main.ts "$@"
