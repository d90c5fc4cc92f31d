#!/usr/bin/env bash
# Benchmarks, results in docs/benchmarks/: place-order under contention on both stores
# (64 concurrent shoppers, 1,600 attempts on 4 SKUs of 300 units each), plain and with points
# and a member price; and WeChat Pay notify verification + decryption (criterion, one core).
# The place-order bench takes flags: see tests/src/bin/place_order_bench.rs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mkdir -p docs/benchmarks
trap ddb_stop EXIT
ddb_start
cargo build --release --locked -p e2e --bin place_order_bench
rm -f docs/benchmarks/place-order.md
RUST_LOG=warn target/release/place_order_bench --out docs/benchmarks/place-order.md
RUST_LOG=warn target/release/place_order_bench --members --out docs/benchmarks/place-order.md
taskset -c 0 cargo bench --locked -p shop-wechat --bench notify -- --warm-up-time 1 --measurement-time 5 \
  | tee "$LOCAL/notify-bench.txt"
grep -A3 "notify/" "$LOCAL/notify-bench.txt" > docs/benchmarks/notify.txt
log "results in docs/benchmarks/"
