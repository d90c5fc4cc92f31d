#!/usr/bin/env bash
# Runs the shop locally: the WeChat simulator and every function on one port, on the
# embedded store (data/shop.db), with the sample catalog. Ctrl-C stops both.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
cargo build --release --locked -p local -p wechat-sim
export WECHAT_APPID="${WECHAT_APPID:-wx0000000000000001}"
export WECHAT_APP_SECRET="${WECHAT_APP_SECRET:-sim-app-secret}"
export SIM_PORT="${SIM_PORT:-9100}"
export WECHAT_API_BASE="${WECHAT_API_BASE:-http://127.0.0.1:$SIM_PORT}"
export SESSION_SECRET="${SESSION_SECRET:-local-session-secret-0123456789abcdef}"
export ADMIN_TOKEN="${ADMIN_TOKEN:-local-admin-token-0123456789}"
export PORT="${PORT:-9000}"
export SEED_SAMPLE="${SEED_SAMPLE:-1}"
target/release/wechat-sim &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null || true' EXIT
log "shop on http://127.0.0.1:$PORT (operator token: $ADMIN_TOKEN); WeChat simulator on $WECHAT_API_BASE"
log "try: curl -s -XPOST localhost:$PORT/login -d '{\"code\":\"alice.1\"}'"
target/release/shop-local
