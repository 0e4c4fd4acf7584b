"""Property: for random struct layouts and values, codecs decode exactly what clang initialized and
encode back to clang's bytes (clang's .data section is the truth)."""
from __future__ import annotations

import re
import subprocess

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pybpf.btf import BTF, Array, Composite, EnumBase, Int, Kind, Ptr
from pybpf.btf.c_dump import dump_c
from pybpf.btf.codec import codec_for
from pybpf.btf.elf import find_btf_section

from test_c_dump_layouts import INT_TYPES, build, layouts

CLANG = ["clang-19", "-g", "-O0", "-target", "bpf", "-c"]


def _values(btf: BTF, tid: int, rnd) -> tuple[str, object]:
    """(C initializer, expected decoded Python value) for type ``tid``."""
    t = btf.resolve(tid)
    if isinstance(t, Int):
        lo, hi = (-(1 << (t.size * 8 - 1)), (1 << (t.size * 8 - 1)) - 1) if t.is_signed else \
            (0, (1 << (t.size * 8)) - 1)
        v = rnd.randint(lo, hi)
        if t.name in ("char",):
            return str(v), chr(v & 0xFF)
        suffix = "LL" if t.size == 8 else ""
        if t.is_signed and v == lo:              # e.g. INT_MIN is not a literal in C
            return f"({v + 1}{suffix} - 1)", v
        return f"{v}{'U' if not t.is_signed else ''}{suffix}", v
    if isinstance(t, EnumBase):
        v = rnd.choice(t.values)
        return v.name, v.value
    if isinstance(t, Ptr):
        return "0", 0
    if isinstance(t, Array):
        items = [_values(btf, t.type_id, rnd) for _ in range(t.nelems)]
        elem = btf.resolve(t.type_id)
        if isinstance(elem, Int) and elem.size == 1:
            raw = bytes((v if isinstance(v, int) else ord(v)) & 0xFF for _, v in items)
            if elem.name == "char":
                text = raw.split(b"\0", 1)[0]
                try:
                    return "{" + ", ".join(c for c, _ in items) + "}", text.decode()
                except UnicodeDecodeError:
                    return "{" + ", ".join(c for c, _ in items) + "}", text
            return "{" + ", ".join(c for c, _ in items) + "}", raw
        return "{" + ", ".join(c for c, _ in items) + "}", [v for _, v in items]
    assert isinstance(t, Composite)
    if t.kind == Kind.UNION:
        c, v = _values(btf, t.members[0].type_id, rnd)
        return "{ ." + t.members[0].name + " = " + c + " }", {t.members[0].name: v}
    parts, expected = [], {}
    for m in t.members:
        if m.bitfield_size:
            base = btf.resolve(m.type_id)
            w = m.bitfield_size
            lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if base.is_signed else (0, (1 << w) - 1)
            v = rnd.randint(lo, hi)
            parts.append(f".{m.name} = {v}")
            expected[m.name] = v
        else:
            c, v = _values(btf, m.type_id, rnd)
            parts.append(f".{m.name} = {c}")
            expected[m.name] = v
    return "{ " + ", ".join(parts) + " }", expected


def _matches(decoded, expected) -> bool:
    if isinstance(expected, dict):
        return all(_matches(getattr(decoded, k), v) for k, v in expected.items())
    if isinstance(expected, list):
        return len(decoded) == len(expected) and all(map(_matches, decoded, expected))
    return decoded == expected


@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(spec=layouts(), seed=st.integers(0, 2 ** 32))
def test_codecs_decode_what_clang_initialized(tmp_path_factory, clang, spec, seed):
    import random
    rnd = random.Random(seed)
    btf = build(spec)
    structs = list(btf.types(Kind.STRUCT))
    inits = {t.name: _values(btf, t.id, rnd) for t in structs}
    tmp = tmp_path_factory.mktemp("codec")
    src = tmp / "vals.c"
    src.write_text(dump_c(btf, header=False) + "".join(
        f"struct {name} g_{name} __attribute__((section(\".data\"))) = {c};\n"
        for name, (c, _) in inits.items()))
    obj = tmp / "vals.o"
    proc = subprocess.run([*CLANG, "-w", str(src), "-o", str(obj)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + src.read_text()
    elf = obj.read_bytes()
    data = find_btf_section(elf, name=".data")
    syms = subprocess.run(["llvm-readelf-19", "-s", str(obj)], check=True, capture_output=True,
                          text=True).stdout
    offsets = {n: int(v, 16) for v, n in re.findall(
        r"^\s*\d+: ([0-9a-f]+)\s+\d+ OBJECT\s+\w+\s+\w+\s+\d+ (\S+)", syms, re.M)}
    for t in structs:
        codec = codec_for(btf, t)
        start = offsets[f"g_{t.name}"]
        raw = data[start:start + codec.size]
        decoded = codec.decode(raw)
        assert _matches(decoded, inits[t.name][1]), (decoded, inits[t.name], src.read_text())
        assert codec.encode(decoded) == raw
