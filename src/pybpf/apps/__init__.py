"""pybpf.apps."""
