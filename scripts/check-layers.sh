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

# The application speaks to WeChat through the wechat crate and to storage through the store
# crate; it holds no HTTP client or AWS SDK of its own (the host composes those).
direct=$(cargo tree --locked -p shop-app -e normal --depth 1 --prefix none --format '{p}' 2>/dev/null | awk '{print $1}' | sort -u)
for bad in reqwest aws-config aws-sdk-dynamodb aws-sdk-secretsmanager aws-smithy-runtime hyper; do
  if grep -qx "$bad" <<<"$direct"; then
    echo "layers: shop-app uses $bad directly (the hosting crate composes clients)" >&2
    fail=1
  fi
done

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

# Storage conditions and writes are the store's: nothing above it builds one.
if grep -rnE '\b(Cond|TxOp|Update)::' shared/app/src shared/http/src; then
  echo "layers: a storage condition or write is built above the store (use store::repo)" >&2
  fail=1
fi

# Inside the application no context imports another: what spans contexts is an outbox
# consumer (app/src/consumers.rs) or a named workflow (app/src/workflows/).
python3 - <<'PY' || fail=1
import pathlib, re, sys
root = pathlib.Path("shared/app/src")
contexts = {p.name for p in root.iterdir() if p.is_dir() and p.name != "workflows"}
composers = {"workflows", "consumers"}
def imported(text):
    text = re.sub(r"//.*", "", text)
    names = set(re.findall(r"\bcrate::(\w+)", text))
    for group in re.findall(r"\bcrate::\{([^}]*)\}", text, re.S):
        names.update(item.strip().split("::")[0] for item in group.split(",") if item.strip())
    return names
bad = []
for f in sorted(root.rglob("*.rs")):
    rel = f.relative_to(root)
    owner = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    if owner in composers:
        continue
    allowed = {owner} | ({"consumers"} if owner == "outbox" else set())
    for name in sorted(imported(f.read_text()) - allowed):
        if name in contexts or name in composers:
            bad.append(f"layers: {f} ({owner}) imports {name}: a context calls no other context or workflow")
for line in bad:
    print(line, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

if [ "$fail" = 0 ]; then echo "layers: domain < store, wechat < app < hosting hold; contexts import no other context"; fi
exit "$fail"
