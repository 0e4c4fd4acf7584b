"""pybpf.apps.lb: an XDP layer-4 load balancer (Katran-style) with Maglev hashing and a Python control plane.

Re-exports only. Importing this package must never load programs or touch the kernel.
"""
from __future__ import annotations

from .control import LoadBalancer  # noqa: F401
from .layout import Backend, Counter, FlowKey, LBConfig, LBConfigError, VipKey, flow_hash  # noqa: F401
from .maglev import DEFAULT_TABLE_SIZE, EMPTY, MaglevError, build_table  # noqa: F401
