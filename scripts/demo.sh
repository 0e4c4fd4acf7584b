#!/usr/bin/env bash
# Install prerequisites, then run pybpf's demo (kernel when bpf(2) is usable, userspace VM otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec "${PYTHON:-python3}" -m pybpf demo "$@"
