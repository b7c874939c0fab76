"""Build of the zheap._zheap extension. All metadata lives in pyproject.toml.

Environment switches:
  ZHEAP_DEBUG=1     -O0 -g, asserts on (-UNDEBUG), 0xAA undefined-fill as Zig Debug
  ZHEAP_SANITIZE=1  ASan + UBSan (run Python with LD_PRELOAD=$(gcc -print-file-name=libasan.so))
  ZHEAP_WERROR=1    warnings are errors (CI)
"""

import os
import sys
from glob import glob

from setuptools import Extension, setup

# prim/ is the core's only OS layer: one file per OS family.
PRIM = "csrc/prim/windows.c" if sys.platform == "win32" else "csrc/prim/unix.c"
CORE = sorted(glob("csrc/*.c")) + [PRIM]
EXT = sorted(glob("csrc/ext/*.c"))


def flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


extra_compile_args = ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
extra_link_args = []
undef_macros = []
define_macros = []
if flag("ZHEAP_WERROR"):
    extra_compile_args.append("-Werror")
if flag("ZHEAP_DEBUG"):
    extra_compile_args += ["-O0", "-g"]
    undef_macros.append("NDEBUG")
    define_macros.append(("ZH_FILL_UNDEFINED", "1"))
if flag("ZHEAP_SANITIZE"):
    san = [
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=undefined",
        "-fno-omit-frame-pointer",
    ]
    extra_compile_args += san + ["-g"]
    extra_link_args += san

setup(
    ext_modules=[
        Extension(
            "zheap._zheap",
            sources=CORE + EXT,
            include_dirs=["csrc"],
            depends=glob("csrc/*.h") + glob("csrc/*/*.h"),
            extra_compile_args=extra_compile_args,
            extra_link_args=extra_link_args,
            undef_macros=undef_macros,
            define_macros=define_macros,
        )
    ],
)
