#!/usr/bin/env bash
# Installs Python's grpcio from PyPI when it is missing (idempotent; quiet
# when it is there): the demo gRPC servicer (plugins/grpc/servicer) that the
# gRPC plugin's tests and the Dify stack talk to runs on it.
set -euo pipefail

python3 -c 'import grpc' >/dev/null 2>&1 && exit 0

echo "installing test peer: grpcio (PyPI)"
if ! python3 -m pip --version >/dev/null 2>&1; then
    # python3 itself too, on a machine that has none
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3 python3-pip >/dev/null
fi
# Debian's own python3 refuses system-wide pip installs unless told.
python3 -m pip install -q grpcio 2>/dev/null || python3 -m pip install -q --break-system-packages grpcio
python3 -c 'import grpc' >/dev/null
