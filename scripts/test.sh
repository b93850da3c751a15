#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), then runs the lint step and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run lint --silent
node scripts/run-tests.mjs "$@"
