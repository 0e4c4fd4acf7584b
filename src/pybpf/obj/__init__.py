"""pybpf.obj: ELF objects -> ObjectSpec (programs, maps, relocations) and the CO-RE engine.

Parses deterministically from bytes; never touches the running kernel.

Public API (what the kernel backend, the VM and the verifier code against)::

    from pybpf.obj import load_object
    spec = load_object("prog.bpf.o")            # or bytes
    spec.programs["handler"]                    # ProgramSpec, keyed by C function name
    spec.maps["events"]                         # MapSpec, keyed by map name (".rodata", ".bss"...)
    spec.rodata["num_backends"] = 3             # typed globals via the DATASEC BTF
    spec.kconfig["LINUX_KERNEL_VERSION"] = ...  # values for .kconfig externs

ProgramSpec.instructions is FULLY LINKED: every used subprogram is appended, bpf-to-bpf calls and
``LDDW src=FUNC`` callback loads carry final pc-relative immediates. Relocated instructions carry
``ref``:

* ``LDDW src=MAP_FD imm=0 ref="<map>"`` -- a map; backends put the fd in ``imm``.
* ``LDDW src=MAP_VALUE imm=(offset << 32) ref="<map>"`` -- a pointer into a global-data map
  (".rodata", ".data", ".bss", ".data.foo", ".kconfig"); backends put the fd in the low 32 bits.
* ``CALL src=KFUNC imm=0 ref="<kfunc>"`` and ``LDDW src=BTF_ID ref="<ksym>"`` -- kernel symbols
  (a typeless ``extern const void x __ksym`` stays ``LDDW src=0 imm=0 ref="x"``,
  ``meta={"ksym": "typeless"}``: the loader writes the kallsyms address into imm, as libbpf).
* ``CALL src=PSEUDO_CALL ref="<subprog>"`` and ``LDDW src=FUNC ref="<subprog>"`` -- final imm.

``func_info``/``line_info``/``core_relos`` are re-indexed to the linked program; each record has
``index`` (list position) and ``slot`` (8-byte slot, the kernel's insn_off).

CO-RE is a separate explicit step: ``pybpf.obj.core.relocate(program_or_spec, target_btf,
local_btf=None)`` (local BTF defaults to ``program.btf``; ``target_btf`` may be a list
``[vmlinux, module_btf, ...]`` searched like libbpf: modules only for types vmlinux lacks) returns a ``CORERelocationResult``
(``.instructions``, ``.outcomes`` -- one ``RelocationOutcome`` per record with old/new value or
the reason it was poisoned -- ``.poisoned``, ``.report()``), or a dict of them for an ObjectSpec.
All 13 libbpf relocation kinds; unresolvable ones are poisoned like libbpf (``call 0xbad2310``; a
poisoned LDDW becomes two such calls, so use ``slot`` rather than list indices after it);
malformed or ambiguous ones raise CORERelocationError naming program, section and instruction.

Maps come from BTF-defined ``.maps`` (``contents`` holds ``.values`` slots: ``(index, "prog")`` for
PROG_ARRAY, ``(index, "map")`` for *_OF_MAPS), the legacy ``maps`` section, global data
(``.rodata``/``.data``/``.bss``/``.data.*``/``.rodata.*``: one-entry ARRAYs, ``contents=[(0,
bytes)]``, ``value_type`` = the DATASEC), ``.kconfig`` externs, and ``.struct_ops[.link]``
variables (STRUCT_OPS maps; ``struct_ops`` maps member name -> program name; the loader still has
to translate the value to the kernel's struct). ``pybpf.obj.maps.kernel_map_name`` gives libbpf's
kernel-visible names ("obj_nam.rodata"). The object's BTF is returned with DATASEC sizes and
offsets filled from the ELF file (libbpf's btf_fixup_datasec); .ksyms sanitising is the loader's.

SEC("?x") programs get ``autoload=False`` (and ``section="x"``), as in libbpf.
Unknown SEC() names raise ObjectError; pass ``allow_unknown_sections=True`` to keep such programs
with ``type=ProgramType.UNSPEC`` (libbpf's behaviour: the caller must set the type before loading).
"""
from __future__ import annotations

from .sections import SectionInfo, find_section_def, parse_section_name
from .spec import (
    BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, CORERelo, CORERelocKind, ExternSpec, FuncInfo,
    LineInfo, MapSpec, ObjectSpec, Pinning, ProgramSpec,
)

__all__ = [
    "load_object", "ObjectSpec", "ProgramSpec", "MapSpec", "ExternSpec", "FuncInfo", "LineInfo",
    "CORERelo", "CORERelocKind", "Pinning", "SectionInfo", "parse_section_name",
    "find_section_def", "BPF_F_SLEEPABLE", "BPF_F_XDP_HAS_FRAGS",
]


def load_object(source, *, allow_unknown_sections: bool = False) -> ObjectSpec:  # noqa: ANN001
    """Parse an ELF object (path or bytes) into an ObjectSpec. See the module docstring."""
    from .loader import load_object as _load
    return _load(source, allow_unknown_sections=allow_unknown_sections)
