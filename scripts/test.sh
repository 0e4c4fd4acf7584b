#!/usr/bin/env bash
# Install prerequisites, then run the whole test suite (kernel tests skip without bpf(2) unless
# PYBPF_REQUIRE_KERNEL=1).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec "${PYTHON:-python3}" -m pytest -q "$@"
