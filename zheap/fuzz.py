"""``python -m zheap fuzz``: fuzz campaigns over zheap's allocators or your own.

    python -m zheap fuzz                       # every built-in allocator
    python -m zheap fuzz arena debug smp       # some of them
    python -m zheap fuzz mypkg.alloc:make      # a factory of yours (module:callable)
    python -m zheap fuzz --examples 500 --seed 1 --profile thorough

Each allocator runs :class:`zheap.testing.machine.AllocatorMachine` for ``--examples``
sequences; a failure prints the minimal failing sequence (also as a standalone
``run_operations`` snippet) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable

from . import (
    Allocator,
    ArenaAllocator,
    DebugAllocator,
    FixedBufferAllocator,
    SbrkAllocator,
    ThreadSafeAllocator,
    WasmAllocator,
    c_allocator,
    page_allocator,
    raw_c_allocator,
    smp_allocator,
    stack_fallback,
)

# name -> (factory, the expression the reproduction snippet uses)
BUILTIN: dict[str, tuple[Callable[[], Allocator], str]] = {
    "page": (lambda: page_allocator, "zheap.page_allocator"),
    "c": (lambda: c_allocator, "zheap.c_allocator"),
    "raw_c": (lambda: raw_c_allocator, "zheap.raw_c_allocator"),
    "smp": (lambda: smp_allocator, "zheap.smp_allocator"),
    "fixed_buffer": (lambda: FixedBufferAllocator(8 << 20), "zheap.FixedBufferAllocator(8 << 20)"),
    "arena": (ArenaAllocator, "zheap.ArenaAllocator()"),
    "stack_fallback": (
        lambda: stack_fallback(4096, c_allocator).get(),
        "zheap.stack_fallback(4096, zheap.c_allocator).get()",
    ),
    "thread_safe": (
        lambda: ThreadSafeAllocator(ArenaAllocator()),
        "zheap.ThreadSafeAllocator(zheap.ArenaAllocator())",
    ),
    "debug": (DebugAllocator, "zheap.DebugAllocator()"),
    "wasm": (lambda: WasmAllocator(max_pages=256), "zheap.WasmAllocator(max_pages=256)"),
    "sbrk": (lambda: SbrkAllocator(capacity=16 << 20), "zheap.SbrkAllocator(capacity=16 << 20)"),
}


def _examples() -> dict[str, tuple[Callable[[], Allocator], str]]:
    from .examples import BumpAllocator, FirstFitAllocator

    return {
        "first_fit": (FirstFitAllocator, "zheap.examples.FirstFitAllocator()"),
        "bump": (BumpAllocator, "zheap.examples.BumpAllocator()"),
    }


def _resolve(spec: str) -> tuple[Callable[[], Allocator], str]:
    table = {**BUILTIN, **_examples()}
    if spec in table:
        return table[spec]
    if ":" not in spec:
        raise SystemExit(f"unknown allocator {spec!r}: one of {', '.join(table)} or module:factory")
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory, f"__import__({module_name!r}).{attr}()"


def main(argv: list[str]) -> int:
    """Run the campaigns; 0 when every allocator passed."""
    ap = argparse.ArgumentParser(prog="python -m zheap fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("allocators", nargs="*", help="names (default: all built-in) or module:factory")
    ap.add_argument("--examples", type=int, default=100, help="sequences per allocator")
    ap.add_argument("--seed", type=int, default=None, help="a fixed seed, for reproducible runs")
    ap.add_argument(
        "--profile", default=None, help="dev, ci or thorough (default $HYPOTHESIS_PROFILE)"
    )
    args = ap.parse_args(argv)

    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test

    from .testing import profiles
    from .testing.machine import AllocatorMachine

    profile = profiles.load(args.profile)
    names = args.allocators or [*BUILTIN, *_examples()]
    failures = 0
    for i, name in enumerate(names, 1):
        factory, source = _resolve(name)
        machine = AllocatorMachine.for_allocator(factory, source=source, name=f"Fuzz_{name}")
        steps = 0
        base_init = machine.__init__

        def counting_init(self: AllocatorMachine, _init: Callable[..., None] = base_init) -> None:
            nonlocal steps
            steps += 1
            _init(self)

        machine.__init__ = counting_init  # type: ignore[method-assign]
        chosen = settings(
            settings.get_profile(profile),
            max_examples=args.examples,
            deadline=None,
            print_blob=False,
        )
        print(f"[{i}/{len(names)}] {name:16s} ", end="", flush=True)
        start = time.perf_counter()
        try:
            if args.seed is not None:
                import hypothesis.core

                # what pytest's --hypothesis-seed sets
                hypothesis.core.global_force_seed = args.seed
            run_state_machine_as_test(machine, settings=chosen)  # type: ignore[no-untyped-call,unused-ignore]
        except Exception as exc:  # noqa: BLE001 -- a found bug: report it, go on
            failures += 1
            print(f"FAILED after {time.perf_counter() - start:.1f}s: {type(exc).__name__}: {exc}")
            for note in getattr(exc, "__notes__", []):
                print(note)
            continue
        print(f"ok  {steps} sequences in {time.perf_counter() - start:.1f}s")
    print(f"\n{len(names) - failures} passed, {failures} failed (profile {profile})")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
