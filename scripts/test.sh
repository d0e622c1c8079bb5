#!/usr/bin/env bash
# The test command: installs the real peer programs and libraries the tests
# talk to and link (from Debian's packages: redis-server, PostgreSQL, libpq,
# libcurl, strace; see scripts/peers.sh; and Python's grpcio from PyPI) when
# they are missing, then runs every test of the workspace (unit, integration,
# doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/peers.sh

# The gRPC plugin's tests talk to a servicer on Python's grpcio (PyPI).
bash scripts/grpcio.sh

# 1,000 concurrent loopback connections need ~2,000 descriptors.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
# The `tracing` feature's events (compiled out of the run above).
cargo test -p greenpatch-runtime --features tracing --test tracing 2>&1 | tee -a "$log" || status=$?

# One closing line for the whole workspace (cargo prints one per target).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
