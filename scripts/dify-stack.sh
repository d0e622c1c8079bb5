#!/usr/bin/env bash
# The Dify stack on real servers: installs what is missing (PostgreSQL and
# redis-server from Debian's packages, grpcio from PyPI), starts the three
# servers on free loopback ports, runs `examples/dify.rs` with their
# addresses in DIFY_POSTGRES / DIFY_REDIS / DIFY_GRPC, and stops them.
#
#   bash scripts/dify-stack.sh                 # 200 requests, 100 ms per backend
#   DIFY_REQUESTS=500 bash scripts/dify-stack.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/peers.sh
bash scripts/grpcio.sh

requests=${DIFY_REQUESTS:-200}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

work=$(mktemp -d /tmp/dify-stack.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# PostgreSQL: a fresh cluster, trust authentication, one session per request.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_pg=()
if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    chown postgres: "$work"
    as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$work/initdb.log" 2>&1 \
    || { cat "$work/initdb.log"; exit 1; }
pg_port=$(free_port)
"${as_pg[@]}" "$pg_bin/postgres" -D "$work/pg" -k "$work" -h 127.0.0.1 -p "$pg_port" \
    -c max_connections=$((requests + 20)) -c fsync=off -c synchronous_commit=off -c shared_buffers=32MB \
    >"$work/postgres.log" 2>&1 &
pids+=($!)

# Redis, without persistence.
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
pids+=($!)

# The demo gRPC servicer (grpcio); it prints the port it bound.
python3 plugins/grpc/servicer/demo_servicer.py 0 >"$work/grpc.out" 2>"$work/grpc.log" &
pids+=($!)

wait_for() { # what, test command...
    local what=$1; shift
    for _ in $(seq 1 200); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$what did not come up"; cat "$work"/*.log; exit 1
}
wait_for postgres grep -q "ready to accept connections" "$work/postgres.log"
wait_for redis redis-cli -p "$redis_port" ping
wait_for grpc grep -q "^PORT " "$work/grpc.out"
grpc_port=$(sed -n 's/^PORT //p' "$work/grpc.out")

export DIFY_POSTGRES="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres connect_timeout=10"
export DIFY_REDIS="redis://127.0.0.1:$redis_port/"
export DIFY_GRPC="http://127.0.0.1:$grpc_port"
export DIFY_REQUESTS=$requests
echo "servers: postgres :$pg_port, redis :$redis_port, grpc :$grpc_port"
cargo run --release -q -p examples --example dify
