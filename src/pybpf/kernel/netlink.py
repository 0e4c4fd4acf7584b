"""Legacy XDP attachment over rtnetlink (RTM_SETLINK + IFLA_XDP) for kernels without XDP links.

Sends one request on a NETLINK_ROUTE socket and reads the ack; never changes anything on the
interface except its XDP program, and always closes its socket.
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


def set_xdp_fd(ifindex: int, prog_fd: int, flags: int = 0) -> None:
    """Attach ``prog_fd`` (or detach with -1) as the XDP program of ``ifindex``."""
    xdp = _attr(IFLA_XDP_FD, struct.pack("=i", prog_fd))
    if flags:
        xdp += _attr(IFLA_XDP_FLAGS, struct.pack("=I", flags))
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, ifindex, 0, 0) + \
        _attr(IFLA_XDP | NLA_F_NESTED, xdp)
    seq = int.from_bytes(os.urandom(4), "little")
    msg = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK,
                         seq, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.settimeout(5)
        sock.send(msg)
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                raise KernelError(f"no rtnetlink answer setting XDP on ifindex {ifindex}",
                                  errno=_errno.ETIMEDOUT, command="RTM_SETLINK") from None
            pos = 0
            while pos + _NLMSGHDR.size <= len(data):
                length, mtype, _flags, rseq, _pid = _NLMSGHDR.unpack_from(data, pos)
                if length < _NLMSGHDR.size:
                    break
                if rseq == seq and mtype == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", data, pos + _NLMSGHDR.size)
                    if err:
                        what = "detach XDP from" if prog_fd < 0 else "attach XDP program to"
                        raise KernelError(f"cannot {what} ifindex {ifindex} (netlink)",
                                          errno=-err, command="RTM_SETLINK")
                    return
                pos += (length + 3) & ~3
