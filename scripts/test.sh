#!/usr/bin/env bash
# Runs every test: starts DynamoDB Local (installing it on first use) and MariaDB (from Debian's
# package) so the storage contract and the end-to-end suites run on all three engines, and a local AWS Secrets Manager (moto) for the
# secrets the functions read at start; then drives the WeChat simulator with the
# community Python SDK (wechatpayv3) as the merchant; the mini-program client's suite needs
# Node.js (npm ci in client/). Extra arguments go to `cargo test`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
py_tools
trap 'ddb_stop; aws_stop; mysql_stop' EXIT
ddb_start
aws_start
mysql_start
# The mini-program client's tools (TypeScript, openapi-typescript, miniprogram-simulate),
# exactly as package-lock.json pins them.
(cd client && npm ci --no-audit --no-fund --loglevel=error)
# The runtime suites start the function binaries as Lambda and SCF do: build them first.
cargo build --workspace --bins --locked
cargo test --workspace --locked "$@"
cargo build --locked -p wechat-sim
WECHAT_SIM="$ROOT/target/debug/wechat-sim" "$PY_VENV/bin/python" -m pytest -q tests/sdk
