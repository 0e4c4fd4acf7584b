"""pybpf.obj: ELF objects -> ObjectSpec (programs, maps, relocations) and the CO-RE engine.

Parses deterministically from bytes; never touches the running kernel.
"""
