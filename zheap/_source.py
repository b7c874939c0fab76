"""Python source that makes an allocator again, for reproduction snippets.

A *source* is zero or more import lines followed by one expression on the last line
(``import mymod`` then ``mymod.make()``): what a snippet needs to build the allocator the
run used, the user's module imported first.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from typing import Any

from . import _zheap

_GLOBALS = ("c_allocator", "raw_c_allocator", "page_allocator", "smp_allocator", "wasm_allocator")


def source_of(maker: Any) -> str | None:
    """Return the source that remakes what ``maker`` makes, or None.

    A class or a named function is called; one of zheap's global allocators is
    named. None when no source can remake it: a lambda, or an allocator instance
    its caller configured.
    """
    if isinstance(maker, _zheap.Allocator):
        for name in _GLOBALS:
            if maker is getattr(_zheap, name, None):
                return f"zheap.{name}"
        return None
    module = getattr(maker, "__module__", None)
    qual = getattr(maker, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qual, str) or "<" in qual:
        return None
    if module == "zheap._zheap" or module == "zheap":
        return f"zheap.{qual}()"
    return "".join(f"{line}\n" for line in import_lines(module)) + f"{module}.{qual}()"


def import_lines(module: str) -> list[str]:
    """Lines that let a script elsewhere import ``module`` as this process did.

    A student's module imported from the working directory (``python -m zheap lab -a
    mymod:make``) is not on the path of a script saved in a temporary directory: name
    the directory it was found in, unless it is one every interpreter searches.
    """
    top = sys.modules.get(module.partition(".")[0])
    file = getattr(top, "__file__", None)
    if not isinstance(file, str) or top is sys.modules[__name__.partition(".")[0]]:
        return [f"import {module}"]  # (zheap's own modules import wherever zheap does)
    root = os.path.dirname(os.path.abspath(file))
    if os.path.basename(file).startswith("__init__."):
        root = os.path.dirname(root)  # a package: the directory holding it
    standard = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if root in {os.path.abspath(p) for p in standard}:
        return [f"import {module}"]
    return ["import sys", f"sys.path.insert(0, {root!r})", f"import {module}"]


def split_source(source: str) -> tuple[list[str], str]:
    """Split a source into its import lines and its final expression."""
    *imports, expr = source.strip().splitlines() or [""]
    return imports, expr
