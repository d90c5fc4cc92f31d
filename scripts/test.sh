#!/usr/bin/env bash
# Runs every test: starts DynamoDB Local (installing it on first use) so the storage contract
# and the end-to-end suites run on both stores, then stops it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
trap ddb_stop EXIT
ddb_start
cargo test --workspace --locked "$@"
