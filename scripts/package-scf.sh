#!/usr/bin/env bash
# Lays out the Tencent SCF event functions for deploy/tencent: target/scf/<function>/ holds
# `bootstrap` (scripts/scf/bootstrap) beside the function's release binary, as the Serverless
# Framework zips it. SCF runs x86-64 Linux (glibc); build on such a machine, then
# `cd deploy/tencent && sls deploy` with the values in .env (see the README).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
functions=$(ls functions | grep -v '^local$')
args=()
for f in $functions; do args+=(-p "$f"); done
cargo build --release --locked "${args[@]}"
for f in $functions; do
  dir="target/scf/$f"
  rm -rf "$dir" && mkdir -p "$dir"
  cp scripts/scf/bootstrap "$dir/bootstrap"
  cp "target/release/$f" "$dir/$f"
  chmod 755 "$dir/bootstrap" "$dir/$f"
  log "$dir: $(du -h "$dir/$f" | cut -f1)"
done
