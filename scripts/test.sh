#!/usr/bin/env bash
# The test command: installs the real peer programs the tests talk to (from
# Debian's packages) when they are missing, then runs every test of the
# workspace (unit, integration, doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v curl >/dev/null 2>&1 || packages+=(curl)
if [ ${#packages[@]} -gt 0 ]; then
    echo "installing test peers: ${packages[*]}"
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

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
