"""The ctypes mirrors of python/mbrl/_lib.py against the real headers: a C program compiled here
against include/mbrl prints sizeof/offsetof of every mirrored field and the constants and enum
values the package uses; any difference fails with the struct and field named (a header change
must update the mirror). Also: every function of the table exists in the library."""

import ctypes
import json
import os
import re
import shutil
import subprocess

import pytest

from mbrl import _lib

from conftest import ROOT, build_dir


def _cache_value(key):
    path = os.path.join(build_dir(), "CMakeCache.txt")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        for line in f:
            m = re.match(rf"{re.escape(key)}:[A-Z]+=(.*)", line.strip())
            if m:
                return m.group(1)
    return None


def _compile_layout(tmp_path):
    cc = _cache_value("CMAKE_C_COMPILER") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    hdf5 = ["/usr/include/hdf5/serial"]          # Debian's; else pkg-config's answer
    if shutil.which("pkg-config"):
        p = subprocess.run(["pkg-config", "--cflags-only-I", "hdf5"], capture_output=True, text=True)
        if p.returncode == 0:
            hdf5 += [w[2:] for w in p.stdout.split() if w.startswith("-I")]
    lines = ['#include <stddef.h>', '#include <stdio.h>']
    for h in sorted(os.listdir(os.path.join(ROOT, "include", "mbrl"))):
        if h.endswith(".h"):
            lines.append(f'#include "mbrl/{h}"')
    lines.append("int main(void) {")
    lines.append('  printf("{\\"structs\\": {");')
    for i, S in enumerate(_lib.STRUCTS):
        T = S._c_name_
        sep = "," if i else ""
        lines.append(f'  printf("{sep}\\"{T}\\": {{\\"sizeof\\": %zu", sizeof({T}));')
        for f in S._fields_:
            lines.append(f'  printf(", \\"{f[0]}\\": [%zu, %zu]", offsetof({T}, {f[0]}), '
                         f'sizeof((({T} *)0)->{f[0]}));')
        lines.append('  printf("}");')
    lines.append('  printf("}, \\"values\\": {");')
    names = list(_lib.CONSTANTS) + list(_lib.ENUMS)
    for i, n in enumerate(names):
        sep = ", " if i else ""
        lines.append(f'  printf("{sep}\\"{n}\\": %lld", (long long)({n}));')
    lines.append('  printf("}}\\n");')
    lines.append("  return 0;\n}")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    cmd = [cc, "-std=c11", "-I", os.path.join(ROOT, "include")]
    for d in hdf5:
        if d:
            cmd += ["-I", d]
    cmd += [str(src), "-o", str(exe), "-lm"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, f"the layout program does not compile (a mirrored field is gone?):\n{p.stderr}"
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_struct_mirrors_match_the_headers(tmp_path):
    c = _compile_layout(tmp_path)
    problems = []
    for S in _lib.STRUCTS:
        info = c["structs"][S._c_name_]
        if S._full_ and ctypes.sizeof(S) != info["sizeof"]:
            problems.append(f"sizeof({S._c_name_}): C {info['sizeof']}, Python {ctypes.sizeof(S)}")
        if not S._full_ and ctypes.sizeof(S) > info["sizeof"]:
            problems.append(f"{S._c_name_}: the Python prefix ({ctypes.sizeof(S)} bytes) is longer "
                            f"than the C struct ({info['sizeof']})")
        for name, *_ in S._fields_:
            off, size = info[name]
            f = getattr(S, name)
            if (f.offset, f.size) != (off, size):
                problems.append(f"{S._c_name_}.{name}: C offset {off} size {size}, Python offset "
                                f"{f.offset} size {f.size}")
    assert not problems, "python/mbrl/_lib.py is out of date with include/mbrl:\n  " + "\n  ".join(problems)


def test_constants_and_enums_match_the_headers(tmp_path):
    c = _compile_layout(tmp_path)["values"]
    want = {**_lib.CONSTANTS, **_lib.ENUMS}
    bad = [f"{k}: C {c[k]}, Python {v}" for k, v in want.items() if c[k] != v]
    assert not bad, "\n".join(bad)


def test_every_function_of_the_table_is_in_the_library():
    L = _lib.lib()            # raises ImportError naming the missing ones
    for name, _, _ in _lib.FUNCTIONS:
        assert hasattr(L, name)
