"""pybpf.cli: the ``pybpf`` command. Each module here that defines ``register(subparsers)`` adds verbs.

Command modules parse arguments and print; the work itself lives in the library packages.
"""
