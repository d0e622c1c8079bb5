#!/usr/bin/env bash
# Installs, from Debian's packages, what the tests build against and talk
# to, when it is missing (idempotent; quiet when everything is there):
#   redis-server          the redis crate's peer (tests/libc_*.rs)
#   postgresql            initdb + postgres for the libpq tests
#   libpq-dev             libpq to link (pq-sys finds it with pkg-config)
#   libcurl4-openssl-dev  the system libcurl the curl crate links (dynamic,
#                         as a C driver is in a real program; no bundled build)
#   pkg-config            how pq-sys and curl-sys find those libraries
#   strace                the cross-check that no socket call escaped the hooks
#   curl                  the command-line client of older tests
#   iproute2              ip and tc for the network-fault run (tests/faults.rs)
set -euo pipefail

packages=()
command -v curl >/dev/null 2>&1 || packages+=(curl)
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
command -v strace >/dev/null 2>&1 || packages+=(strace)
{ command -v ip && command -v tc; } >/dev/null 2>&1 || packages+=(iproute2)
command -v pkg-config >/dev/null 2>&1 || packages+=(pkg-config)
if command -v pkg-config >/dev/null 2>&1; then
    pkg-config --exists libpq 2>/dev/null || packages+=(libpq-dev)
    pkg-config --exists libcurl 2>/dev/null || packages+=(libcurl4-openssl-dev)
else
    packages+=(libpq-dev libcurl4-openssl-dev)
fi
[ ${#packages[@]} -eq 0 ] && exit 0

echo "installing test peers: ${packages[*]}"
sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# Packaged services must not start on install (the tests start their own).
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ] && [ "$(id -u)" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
fi
status=0
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null || status=$?
[ -n "$made_policy" ] && rm -f "$policy"
exit "$status"
