"""``pybpf obj info OBJ`` and ``pybpf obj relocate OBJ [--btf FILE]``: what an object declares,
and what CO-RE does to it against a target BTF.

Argument parsing and printing only; the work lives in pybpf.obj (never parses ELF itself).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    obj = subparsers.add_parser("obj", help="inspect BPF ELF objects")
    verbs = obj.add_subparsers(dest="obj_command", metavar="VERB")
    info = verbs.add_parser("info", help="programs, maps and externs of an object")
    info.add_argument("object", help="a clang-compiled BPF ELF object")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument("--allow-unknown-sections", action="store_true",
                      help="keep programs whose SEC() libbpf does not know (type UNSPEC)")
    info.set_defaults(handler=_info)
    reloc = verbs.add_parser("relocate", help="apply CO-RE relocations against a BTF")
    reloc.add_argument("object")
    reloc.add_argument("--btf", default="/sys/kernel/btf/vmlinux",
                       help="target BTF (raw or ELF .BTF); default: the running kernel's")
    reloc.add_argument("--module-btf", action="append", default=[], metavar="FILE",
                       help="module BTF split over --btf, searched for types it lacks "
                            "(repeatable, e.g. /sys/kernel/btf/nf_conntrack)")
    reloc.add_argument("--program", action="append", help="only this program (repeatable)")
    reloc.add_argument("--disasm", action="store_true",
                       help="also print the relocated instructions")
    reloc.set_defaults(handler=_relocate)
    obj.set_defaults(handler=lambda args: (obj.print_help(), 2)[1])


def _info_dict(spec: Any) -> dict[str, Any]:
    programs = {}
    for name, p in spec.programs.items():
        programs[name] = {
            "section": p.section, "type": p.type.name.lower(),
            "expected_attach_type": (p.expected_attach_type.name.lower()
                                     if p.expected_attach_type is not None else None),
            "attach_to": p.attach_to, "flags": p.flags,
            "insns": len(p.instructions), "slots": sum(i.slots for i in p.instructions),
            "subprograms": p.subprograms, "maps": p.map_refs,
            "core_relos": len(p.core_relos), "func_info": len(p.func_info),
            "line_info": len(p.line_info),
        }
    maps = {}
    for name, m in spec.maps.items():
        maps[name] = {
            "type": m.type.name.lower(), "key_size": m.key_size, "value_size": m.value_size,
            "max_entries": m.max_entries, "flags": m.flags, "pinning": m.pinning.name.lower(),
            "section": m.section, "inner": m.inner.name if m.inner else None,
            "contents": [[k, v if isinstance(v, str) else f"<{len(v)} bytes>"]
                         for k, v in m.contents],
        }
    externs = {n: {"kind": e.kind, "weak": e.weak, "func": e.is_func,
                   **({"offset": e.offset, "size": e.size} if e.kind == "kconfig" else {})}
               for n, e in spec.externs.items()}
    return {"path": spec.path, "license": spec.license, "kern_version": spec.kern_version,
            "programs": programs, "maps": maps, "externs": externs}


def _info(args: argparse.Namespace) -> int:
    from ..obj import load_object

    spec = load_object(args.object, allow_unknown_sections=args.allow_unknown_sections)
    info = _info_dict(spec)
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{info['path']}: license {info['license']!r}")
    print("programs:")
    for name, p in info["programs"].items():
        attach = f" expected_attach_type {p['expected_attach_type']}" if p[
            "expected_attach_type"] else ""
        target = f" -> {p['attach_to']}" if p["attach_to"] else ""
        print(f"  {name}: {p['type']} SEC(\"{p['section']}\"){target}{attach}  "
              f"{p['insns']} insns ({p['slots']} slots), {p['core_relos']} CO-RE relos")
        if p["subprograms"]:
            print(f"    subprograms: {', '.join(p['subprograms'])}")
        if p["maps"]:
            print(f"    maps: {', '.join(p['maps'])}")
    print("maps:")
    for name, m in info["maps"].items():
        extra = f" inner={m['inner']}" if m["inner"] else ""
        slots = [f"{k}={v}" for k, v in m["contents"] if not str(v).startswith("<")]
        if slots:
            extra += " slots: " + ", ".join(slots)
        print(f"  {name}: {m['type']} key {m['key_size']} value {m['value_size']} "
              f"max_entries {m['max_entries']} flags {m['flags']:#x}{extra}")
    if info["externs"]:
        print("externs:")
        for name, e in info["externs"].items():
            print(f"  {name}: {e['kind']}{' (weak)' if e['weak'] else ''}"
                  f"{' function' if e['func'] else ''}")
    return 0


def _relocate(args: argparse.Namespace) -> int:
    from ..btf import BTF
    from ..obj import load_object
    from ..obj.core import relocate_program

    spec = load_object(args.object)
    base = BTF.from_file(args.btf)
    targets = [base, *(BTF.from_file(path, base) for path in args.module_btf)]
    names = args.program or list(spec.programs)
    for name in names:
        result = relocate_program(spec.program(name), targets, spec.btf)
        print(result.report())     # poisoning is legitimate (guarded code): the report says why
        if args.disasm:
            from ..isa.disasm import format_instruction
            slot = 0
            for insn in result.instructions:
                ref = f"  ; {insn.ref}" if insn.ref else ""
                print(f"  {slot:5}: {format_instruction(insn)}{ref}")
                slot += insn.slots
    return 0
