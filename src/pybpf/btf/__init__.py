"""pybpf.btf."""
