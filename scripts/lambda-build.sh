#!/usr/bin/env bash
# Builds every function for AWS Lambda on arm64 (Graviton, as template.yaml deploys them)
# with cargo-lambda and zig from PyPI, in the release profile (small, Cargo.toml), and prints each bootstrap's
# size; with --out FILE it also appends the table there (docs/benchmarks/lambda-sizes.md).
# Fails when a function is over MAX_MB (10).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
out=""
[ "${1:-}" = "--out" ] && out="$2"
venv="$LOCAL/lambda-venv" req="$ROOT/scripts/requirements-lambda.txt"
if ! cmp -s "$req" "$venv/.installed" 2>/dev/null; then
  log "installing cargo-lambda and zig into $venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$venv/.installed"
fi
export PATH="$venv/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >&2
functions=$(ls functions | grep -v '^local$')
args=()
for f in $functions; do args+=(-p "$f"); done
start=$(date +%s)
cargo lambda build --release --arm64 --locked "${args[@]}" >&2
took=$(( $(date +%s) - start ))
max_bytes=$(( ${MAX_MB:-10} * 1024 * 1024 ))
table="| function | bootstrap (arm64, stripped) |"$'\n'"|---|---|"
over=()
for f in $functions; do
  bin="target/lambda/$f/bootstrap"
  bytes=$(stat -c %s "$bin")
  table+=$'\n'"| $f | $(awk -v b="$bytes" 'BEGIN { printf "%.2f MB", b / 1048576 }') |"
  [ "$bytes" -le "$max_bytes" ] || over+=("$f")
done
echo "$table"
log "cargo lambda build took ${took}s"
if [ -n "$out" ]; then
  printf '\n## %s · %s cores · cargo lambda build --release --arm64 (%ss)\n\n%s\n' \
    "$(date +%F)" "$(nproc)" "$took" "$table" >> "$out"
fi
if [ ${#over[@]} -gt 0 ]; then
  echo "over ${MAX_MB:-10} MB: ${over[*]}" >&2
  exit 1
fi
