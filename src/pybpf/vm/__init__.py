"""pybpf.vm."""
