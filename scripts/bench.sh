#!/usr/bin/env bash
# Benchmarks a reader can rerun; results in docs/benchmarks/ with the machine's cores and the
# date. Ratios carry across machines, absolute figures do not: each figure is taken beside its
# baseline in the same sitting.
#   notify.md       notify verify + decrypt + parse (criterion, one core) beside
#                   `openssl speed rsa2048` verify and the Python SDK (wechatpayv3), as ratios
#   webhook.md      signed, encrypted notifies over HTTP to the real binary on one core, first
#                   deliveries and duplicates, against the same openssl figure
#   burst.md        1,000 buyers at once on 100 units, on both stores: resident memory and
#                   threads of the real binary, and the stock equation
#   place-order.md  place-order under contention on all three engines (embedded, DynamoDB
#                   Local, MariaDB), plain, with points and a member price, and one hot SKU over
#                   8 stock items (flags: see tests/src/bin/place_order_bench.rs)
#   cold-start.md   every function as deployed (release profile), started as Lambda and as a
#                   server
# ROUNDS=3 by default (notify and webhook). Arguments pick sections, all by default:
#   scripts/bench.sh webhook burst
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
OUT=docs/benchmarks
ROUNDS="${ROUNDS:-3}"
mkdir -p "$OUT"
py_tools
trap 'ddb_stop; mysql_stop' EXIT
ddb_start
mysql_start
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_REGION="${AWS_REGION:-ap-shanghai-local}"
cargo build --profile server --locked -p local -p e2e --bins
ulimit -n 8192 2>/dev/null || true
stamp="$(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)"

# The RSA-2048 verifications per second `openssl speed` makes on core 0, now.
openssl_verify() {
  taskset -c 0 openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $NF}'
}

# Criterion's middle throughput estimate of `notify/$1`, per second.
criterion_rate() {
  awk -v name="notify/$1" '
    $0 ~ "^"name"( |$)" {found=1}
    found && /thrpt:/ {v=$4; u=$5; gsub(/[^A-Za-z]/, "", u);
      m = (u=="Kelems") ? 1e3 : (u=="Melems") ? 1e6 : 1; printf "%.0f\n", v*m; exit}' "$2"
}

notify() {
{
  echo "# Notify verify + decrypt + parse ($stamp)"
  echo
  echo "One core (taskset -c 0), each round in turn: criterion (\`cargo bench -p shop-wechat --bench notify\`),"
  echo "\`openssl speed rsa2048\` verify, the Python SDK wechatpayv3 (\`scripts/bench/notify_python.py\`)."
  echo
  echo "| round | ours: verify+decrypt+parse /s | verify only /s | openssl verify /s | Python SDK /s | ours ÷ openssl | ours ÷ Python |"
  echo "|---|---|---|---|---|---|---|"
} > "$OUT/notify.md"
for r in $(seq 1 "$ROUNDS"); do
  taskset -c 0 cargo bench --locked -p shop-wechat --bench notify -- --warm-up-time 1 --measurement-time 5 \
    >"$LOCAL/notify-bench.txt" 2>&1
  full=$(criterion_rate verify_decrypt_parse "$LOCAL/notify-bench.txt")
  verify=$(criterion_rate verify_only "$LOCAL/notify-bench.txt")
  ossl=$(openssl_verify)
  py=$(taskset -c 0 "$PY_VENV/bin/python" scripts/bench/notify_python.py)
  awk -v r="$r" -v f="$full" -v v="$verify" -v o="$ossl" -v p="$py" \
    'BEGIN {printf "| %d | %d | %d | %d | %d | %.2f× | %.2f× |\n", r, f, v, o, p, f/o, f/p}' >> "$OUT/notify.md"
done
}

webhook() {
{
  echo "# WeChat Pay webhook over HTTP ($stamp)"
  echo
  echo "The real \`shop-local\` binary on core 0 (embedded store), the sender on core 1, 16 connections:"
  echo "\`notify_http_bench --duplicates 10\` (2,000 first deliveries, then each sent 10 times more). The openssl figure is RSA-2048 verifications per second on core 0 in the same round."
  echo
  echo "| round | phase | notifies/s | server CPU per notify | openssl verify /s | notifies/s ÷ openssl |"
  echo "|---|---|---|---|---|---|"
} > "$OUT/webhook.md"
for r in $(seq 1 "$ROUNDS"); do
  rm -f "$LOCAL/webhook-round.md"
  RUST_LOG=warn taskset -c 1 target/server/notify_http_bench --cpu 0 --duplicates 10 --out "$LOCAL/webhook-round.md" 2>/dev/null
  ossl=$(openssl_verify)
  tail -n 2 "$LOCAL/webhook-round.md" | awk -F'|' -v r="$r" -v o="$ossl" \
    '{gsub(/^ +| +$/, "", $3); gsub(/ /, "", $7); printf "| %d | %s | %s | %s | %d | %.2f× |\n", r, $3, $7, $8, o, $7/o}' \
    >> "$OUT/webhook.md"
done
}

burst() {
rm -f "$OUT/burst.md"
RUST_LOG=warn taskset -c 1 target/server/burst_probe --cpu 0 --store embedded --out "$OUT/burst.md"
RUST_LOG=warn taskset -c 1 target/server/burst_probe --cpu 0 --store dynamodb --out "$OUT/burst.md"
printf '\n%s\n' "Measured $stamp: \`burst_probe\` (server on core 0, buyers on core 1)." >> "$OUT/burst.md"
}

place_order() {
rm -f "$OUT/place-order.md"
RUST_LOG=warn target/server/place_order_bench --store all --out "$OUT/place-order.md"
RUST_LOG=warn target/server/place_order_bench --store all --members --out "$OUT/place-order.md"
RUST_LOG=warn target/server/place_order_bench --store all --skus 1 --units 800 --warehouses 1 --shards 8 --out "$OUT/place-order.md"
printf '\n%s\n' "Measured $stamp: \`place_order_bench\`, flags in the rows." >> "$OUT/place-order.md"
}

search() {
log "search: 10,000 products on the embedded store and DynamoDB Local"
rm -f "$OUT/search.md"
RUST_LOG=warn target/server/search_bench --products 10000 --out "$OUT/search.md"
}

cold_start() {
functions=()
for f in $(ls functions | grep -v '^local$'); do functions+=(-p "$f"); done
cargo build --release --locked "${functions[@]}"
RUST_LOG=warn target/server/cold_start --bin-dir target/release --out "$OUT/cold-start.md"
}

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(notify webhook burst place-order search cold-start)
for section in "${sections[@]}"; do
  case "$section" in
    notify | webhook | burst) "$section" ;;
    place-order) place_order ;;
    search) search ;;
    cold-start) cold_start ;;
    *) echo "bench.sh: no section $section (notify webhook burst place-order search cold-start)" >&2; exit 2 ;;
  esac
done
log "results in $OUT/"
