"""Fixtures of the load-balancer tests: a configured balancer in the kernel or in the VM.

Every instance is closed (and its scratch pins removed) by the fixture, even when a test fails.
"""
from __future__ import annotations

import pytest

from lbsupport import (NO_BACKEND_VIP, V4_ANY_PORT, V4_OVER_V6, V4_TCP, V4_UDP, V6_TCP, V6_UDP,
                       open_balancer)


@pytest.fixture(params=[pytest.param("kernel", marks=pytest.mark.kernel), "vm"])
def balancer(request):
    """A fresh, empty (no VIPs) balancer, once in the kernel and once in the VM."""
    inst = open_balancer(request.param)
    try:
        yield inst
    finally:
        inst.close()


@pytest.fixture(scope="module", params=[pytest.param("kernel", marks=pytest.mark.kernel), "vm"])
def services(request):
    """A balancer (kernel, then VM) with the six single-backend VIPs above and one without backends."""
    inst = open_balancer(request.param)
    try:
        for vip, backend in (V4_TCP, V4_UDP, V6_TCP, V6_UDP, V4_ANY_PORT, V4_OVER_V6):
            inst.lb.add_vip(vip)
            inst.lb.add_backend(vip, backend)
        inst.lb.add_vip(NO_BACKEND_VIP)
        yield inst
    finally:
        inst.close()
