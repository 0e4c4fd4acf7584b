#!/usr/bin/env bash
# Install pybpf's build/test prerequisites on Debian 12 (as root) and pybpf itself in editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in clang-19 llvm-19 bpftool libbpf-dev iproute2 python3-pip; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check -e '.[test,bench]' 2>&1 \
    | grep -v -i "running pip as the 'root' user" || true
