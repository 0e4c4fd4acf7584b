"""rtnetlink requests for the pre-link attach paths: XDP (RTM_SETLINK + IFLA_XDP) and classic tc
(clsact qdisc + direct-action bpf filter) for kernels without XDP links or tcx.

Each call sends one request on a NETLINK_ROUTE socket and reads its ack; it only touches the XDP
program / the clsact qdisc and the one filter it is asked about, and always closes its socket.
"""
from __future__ import annotations

import errno as _errno
import os
import socket
import struct

from ..errors import KernelError

NETLINK_ROUTE = 0
RTM_SETLINK = 19
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_ERROR = 0x2
NLA_F_NESTED = 0x8000
IFLA_XDP = 43
IFLA_XDP_FD = 1
IFLA_XDP_FLAGS = 3

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def request(msg_type: int, flags: int, body: bytes, what: str) -> None:
    """Send one rtnetlink request with NLM_F_ACK and raise KernelError on a negative ack."""
    seq = int.from_bytes(os.urandom(4), "little")
    msg = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type,
                         NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.settimeout(5)
        sock.send(msg)
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                raise KernelError(f"no rtnetlink answer: {what}", errno=_errno.ETIMEDOUT,
                                  command=f"rtnetlink {msg_type}") from None
            pos = 0
            while pos + _NLMSGHDR.size <= len(data):
                length, mtype, _flags, rseq, _pid = _NLMSGHDR.unpack_from(data, pos)
                if length < _NLMSGHDR.size:
                    break
                if rseq == seq and mtype == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", data, pos + _NLMSGHDR.size)
                    if err:
                        raise KernelError(f"cannot {what} (rtnetlink)", errno=-err,
                                          command=_NAMES.get(msg_type, str(msg_type)))
                    return
                pos += (length + 3) & ~3


def set_xdp_fd(ifindex: int, prog_fd: int, flags: int = 0) -> None:
    """Attach ``prog_fd`` (or detach with -1) as the XDP program of ``ifindex``."""
    xdp = _attr(IFLA_XDP_FD, struct.pack("=i", prog_fd))
    if flags:
        xdp += _attr(IFLA_XDP_FLAGS, struct.pack("=I", flags))
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, ifindex, 0, 0) + \
        _attr(IFLA_XDP | NLA_F_NESTED, xdp)
    what = f"{'detach XDP from' if prog_fd < 0 else 'attach XDP program to'} ifindex {ifindex}"
    request(RTM_SETLINK, 0, body, what)


# --- classic tc ---------------------------------------------------------------------------
RTM_NEWQDISC, RTM_DELQDISC, RTM_NEWTFILTER, RTM_DELTFILTER = 36, 37, 44, 45
_NAMES = {RTM_SETLINK: "RTM_SETLINK", RTM_NEWQDISC: "RTM_NEWQDISC", RTM_NEWTFILTER:
          "RTM_NEWTFILTER", RTM_DELTFILTER: "RTM_DELTFILTER"}
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
TCA_KIND, TCA_OPTIONS = 1, 2
TCA_BPF_FD, TCA_BPF_NAME, TCA_BPF_FLAGS = 6, 7, 8
TCA_BPF_FLAG_ACT_DIRECT = 1
TC_H_CLSACT = 0xFFFFFFF1
TC_H_MIN_INGRESS, TC_H_MIN_EGRESS = 0xFFF2, 0xFFF3
ETH_P_ALL = 0x0003
_TCMSG = struct.Struct("=BxxxiIII")       # family, ifindex, handle, parent, info


def _tc_parent(direction: str) -> int:
    minor = TC_H_MIN_INGRESS if direction == "ingress" else TC_H_MIN_EGRESS
    return (TC_H_CLSACT & 0xFFFF0000) | minor


def ensure_clsact(ifindex: int) -> None:
    """Add a clsact qdisc to ``ifindex`` unless it already has one."""
    body = _TCMSG.pack(socket.AF_UNSPEC, ifindex, 0xFFFF0000, TC_H_CLSACT, 0) + \
        _attr(TCA_KIND, b"clsact\0")
    try:
        request(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, body, f"add clsact to ifindex {ifindex}")
    except KernelError as exc:
        if exc.errno != _errno.EEXIST:
            raise


def _filter_body(ifindex: int, direction: str, prio: int, handle: int, options: bytes) -> bytes:
    info = (prio << 16) | socket.htons(ETH_P_ALL)
    body = _TCMSG.pack(socket.AF_UNSPEC, ifindex, handle, _tc_parent(direction), info)
    body += _attr(TCA_KIND, b"bpf\0")
    if options:
        body += _attr(TCA_OPTIONS | NLA_F_NESTED, options)
    return body


def add_bpf_filter(ifindex: int, direction: str, prog_fd: int, name: str, prio: int,
                   handle: int = 1) -> None:
    """A direct-action bpf filter running ``prog_fd`` at ``prio`` on ingress/egress of ``ifindex``."""
    options = (_attr(TCA_BPF_FD, struct.pack("=I", prog_fd))
               + _attr(TCA_BPF_NAME, name.encode()[:255] + b"\0")
               + _attr(TCA_BPF_FLAGS, struct.pack("=I", TCA_BPF_FLAG_ACT_DIRECT)))
    request(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL,
            _filter_body(ifindex, direction, prio, handle, options),
            f"add tc {direction} bpf filter (prio {prio}) on ifindex {ifindex}")


def del_bpf_filter(ifindex: int, direction: str, prio: int, handle: int = 1) -> None:
    request(RTM_DELTFILTER, 0, _filter_body(ifindex, direction, prio, handle, b""),
            f"delete tc {direction} filter (prio {prio}) on ifindex {ifindex}")
