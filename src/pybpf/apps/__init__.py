"""pybpf.apps: complete tools built on pybpf (execsnoop, and the load balancer), usable as libraries.

Each app is a subpackage with a library API; the CLI verbs in pybpf.cli only parse arguments and print.
Importing this package imports no app (and never touches the kernel).
"""
