#!/usr/bin/env bash
# The layers import only downwards: domain < store, wechat < app < hosting. Cargo already
# refuses a cycle; this refuses a layer that reaches sideways or up, and a domain that pulls
# in I/O (storage, HTTP, AWS, async runtime). CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
deps() { # the workspace crates and the named outside crates that a package links (normal deps)
  cargo tree --locked -p "$1" -e normal --prefix none --format '{p}' 2>/dev/null | awk '{print $1}' | sort -u
}
refuse() { # package, crates it must not reach
  local pkg=$1; shift
  local have; have=$(deps "$pkg")
  for bad in "$@"; do
    if grep -qx "$bad" <<<"$have"; then
      echo "layers: $pkg depends on $bad" >&2
      fail=1
    fi
  done
}

refuse shop-domain shop-store shop-wechat shop-app shop-http tokio reqwest hyper axum \
  aws-sdk-dynamodb aws-config rusqlite lambda_runtime serde_json
refuse shop-store shop-wechat shop-app shop-http reqwest axum lambda_runtime
refuse shop-wechat shop-store shop-app shop-http axum lambda_runtime rusqlite aws-sdk-dynamodb
refuse shop-app shop-http axum lambda_runtime aws_lambda_events

# Keys are built in one module: no other source spells a partition prefix.
if grep -rnE 'format!\("(USER|ORDER|PRODUCT|SKU|PAYMENT|COUPON|OUTBOX|RECON)#' shared --include=*.rs \
  | grep -v '^shared/store/src/keys.rs'; then
  echo "layers: a key is built outside shared/store/src/keys.rs" >&2
  fail=1
fi

# Items and keys belong to the store's repositories: the layers above speak domain types.
if grep -rnE '\bkeys::|to_item\(|from_item\(' shared/app/src shared/http/src; then
  echo "layers: an item or key is built above the store (use store::repo)" >&2
  fail=1
fi

if [ "$fail" = 0 ]; then echo "layers: domain < store, wechat < app < hosting hold"; fi
exit "$fail"
