"""Python source that makes an allocator again, for reproduction snippets.

A *source* is zero or more import lines followed by one expression on the last line
(``import mymod`` then ``mymod.make()``): what a snippet needs to build the allocator the
run used, the user's module imported first.
"""

from __future__ import annotations

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
    return f"import {module}\n{module}.{qual}()"


def split_source(source: str) -> tuple[list[str], str]:
    """Split a source into its import lines and its final expression."""
    *imports, expr = source.strip().splitlines() or [""]
    return imports, expr
