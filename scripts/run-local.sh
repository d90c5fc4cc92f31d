#!/usr/bin/env bash
# Runs the shop locally: the WeChat simulator and every function on one port, on the
# embedded store (data/shop.db) or, with STORE=dynamodb, on DynamoDB Local, or, with
# STORE=mysql, on MariaDB (both started here), with the sample catalog. Ctrl-C stops them all.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# The `local` profile: optimised, without link-time optimisation (a faster first build).
# SHOP_PROFILE=dev runs the debug binaries the test command built (CI's README check does).
PROFILE="${SHOP_PROFILE:-local}"
cargo build --profile "$PROFILE" --locked -p local -p wechat-sim
BIN="target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"
export WECHAT_APPID="${WECHAT_APPID:-wx0000000000000001}"
export WECHAT_APP_SECRET="${WECHAT_APP_SECRET:-sim-app-secret}"
export SIM_PORT="${SIM_PORT:-9100}"
export WECHAT_API_BASE="${WECHAT_API_BASE:-http://127.0.0.1:$SIM_PORT}"
export SESSION_SECRET="${SESSION_SECRET:-local-session-secret-0123456789abcdef}"
export ADMIN_TOKEN="${ADMIN_TOKEN:-local-admin-token-0123456789}"
export PORT="${PORT:-9000}"
export SEED_SAMPLE="${SEED_SAMPLE:-1}"
# Operators may move this shop's clock forward (POST /admin/clock) to try what takes days.
export MOVABLE_CLOCK="${MOVABLE_CLOCK:-1}"
# WeChat Pay, simulated: the simulator makes the merchant key on first start and writes
# WeChat Pay's public key next to it; the shop reads both.
export SIM_KEY_DIR="${SIM_KEY_DIR:-$LOCAL/wechatpay}"
export WECHATPAY_API_BASE="${WECHATPAY_API_BASE:-$WECHAT_API_BASE}"
export WECHATPAY_MCHID="${WECHATPAY_MCHID:-1900000001}"
export WECHATPAY_MCH_SERIAL="${WECHATPAY_MCH_SERIAL:-5157F09EFDC096DE15EBE81A47057A7200000001}"
export WECHATPAY_APIV3_KEY="${WECHATPAY_APIV3_KEY:-local-apiv3-key-0123456789abcdef}"
export WECHATPAY_MCH_KEY_FILE="${WECHATPAY_MCH_KEY_FILE:-$SIM_KEY_DIR/apiclient_key.pem}"
export WECHATPAY_PUBLIC_KEY_ID="${WECHATPAY_PUBLIC_KEY_ID:-PUB_KEY_ID_0114232099752025112500000000000001}"
export WECHATPAY_PUBLIC_KEY_FILE="${WECHATPAY_PUBLIC_KEY_FILE:-$SIM_KEY_DIR/wechatpay_public_key.pem}"
export WECHATPAY_NOTIFY_URL="${WECHATPAY_NOTIFY_URL:-http://127.0.0.1:$PORT/pay/notify}"
rm -f "$WECHATPAY_PUBLIC_KEY_FILE"
# STORE=dynamodb scripts/run-local.sh: the same shop on DynamoDB Local (in memory), which it
# starts here; the shop makes its table on first start.
if [ "${STORE:-embedded}" = dynamodb ] && [ -z "${DYNAMODB_ENDPOINT:-}" ]; then
  ddb_start
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  export AWS_REGION="${AWS_REGION:-ap-shanghai-local}"
fi
# STORE=mysql scripts/run-local.sh: on a MariaDB started here (a fresh data directory), in the
# database `shop`, which the shop makes with its schema on first start.
if [ "${STORE:-embedded}" = mysql ] && [ -z "${MYSQL_URL:-}${MYSQL_ADDRESS:-}" ]; then
  mysql_start
  export MYSQL_URL="$MYSQL_TEST_URL/shop"
fi
"$BIN/wechat-sim" &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null || true; ddb_stop; mysql_stop' EXIT
for _ in $(seq 1 100); do [ -s "$WECHATPAY_PUBLIC_KEY_FILE" ] && break; sleep 0.1; done
log "shop on http://127.0.0.1:$PORT; WeChat simulator on $WECHAT_API_BASE"
log "first operator: curl -s -XPOST localhost:$PORT/admin/operators -H 'Authorization: Bearer $ADMIN_TOKEN' -d '{\"id\":\"boss\",\"name\":\"boss\",\"role\":\"finance\"}'"
log "try: curl -s -XPOST localhost:$PORT/login -d '{\"code\":\"alice.1\"}'"
"$BIN/shop-local"
