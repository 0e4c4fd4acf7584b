"""A tiny TCP+UDP server for the load-balancer topology: answers every request with its own name.

Run inside a backend's network namespace (``python -m pybpf.apps.lb.identity_server NAME ...``).
It never forwards anything, binds only the addresses it is given, and exits when its stdin closes.
"""
from __future__ import annotations

import argparse
import selectors
import socket
import sys


def serve(name: str, tcp_port: int, udp_port: int, udp_addrs: list[str]) -> None:
    reply = (name + "\n").encode()
    sel = selectors.DefaultSelector()
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind(("::", tcp_port))
    listener.listen(4096)
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, "accept")
    for addr in udp_addrs:             # bound to the VIP itself, so replies come from the VIP
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((addr, udp_port))
        udp.setblocking(False)
        sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    print("ready", flush=True)
    while True:
        for key, _ in sel.select(timeout=1.0):
            sock = key.fileobj
            if key.data == "stdin":
                if not sys.stdin.readline():
                    return
            elif key.data == "accept":
                try:
                    conn, _ = sock.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, "conn")
            elif key.data == "udp":
                try:
                    data, peer = sock.recvfrom(2048)
                    sock.sendto(reply, peer)
                except OSError:
                    pass
            else:
                try:
                    data = sock.recv(2048)
                except OSError:
                    data = b""
                if data:
                    try:
                        sock.send(reply)
                    except OSError:
                        data = b""
                if not data:
                    sel.unregister(sock)
                    sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--tcp-port", type=int, default=80)
    parser.add_argument("--udp-port", type=int, default=53)
    parser.add_argument("--udp-addr", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        serve(args.name, args.tcp_port, args.udp_port, args.udp_addr)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
