"""pybpf.kernel."""
