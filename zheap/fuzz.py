"""``python -m zheap fuzz``: fuzz campaigns over zheap's allocators or your own.

    python -m zheap fuzz                       # every built-in allocator
    python -m zheap fuzz arena debug smp       # some of them
    python -m zheap fuzz mypkg.alloc:make      # a factory of yours (module:callable)
    python -m zheap fuzz --examples 500 --seed 1 --profile thorough

Each allocator runs :class:`zheap.testing.machine.AllocatorMachine` with ``--examples``
as Hypothesis's ``max_examples``: the valid sequences it aims for. The count printed is
the sequences it ran, which can differ: Hypothesis stops early once it has tried every
sequence it can generate, and also runs replayed, rejected and shrinking ones. Every
distinct failure is printed with its exception and a standalone
program that reproduces it (it imports your module and calls your factory as you
named it, then replays the shrunk sequence with ``run_operations``); the exit
status is then 1. Needs Hypothesis (``pip install 'zheap[fuzz]'``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable

from . import (
    Allocator,
    AllocatorContractError,
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
from ._source import import_lines

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
        factory, source = table[spec]
        return factory, f"import zheap.examples\n{source}" if ".examples." in source else source
    if ":" not in spec:
        raise SystemExit(f"unknown allocator {spec!r}: one of {', '.join(table)} or module:factory")
    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # a module next to the user, as `python -m` finds it
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise SystemExit(f"cannot load {spec!r}: {e}") from None
    # The reproduction calls the factory exactly as named: `module.attr()`, from a script
    # saved elsewhere (so the module's directory goes on its path).
    return factory, "\n".join([*import_lines(module_name), f"{module_name}.{attr}()"])


def _leaves(exc: BaseException) -> list[BaseException]:
    """List the distinct failures of a campaign (Hypothesis groups several in one)."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _root_first(leaves: list[BaseException]) -> list[BaseException]:
    """Order failures root error first.

    A rule zheap checks (AllocatorContractError, then an AssertionError of the
    fuzzer's checks) comes before what the corruption led to later (a KeyError in
    the allocator's own code, say).
    """

    def rank(e: BaseException) -> int:
        if isinstance(e, AllocatorContractError):
            return 0
        return 1 if isinstance(e, AssertionError) else 2

    return sorted(leaves, key=rank)


def _report(exc: BaseException, verbose: bool) -> None:
    """Print each distinct failure, root error first, with a snippet that reproduces it."""
    leaves = _root_first(_leaves(exc))
    for k, leaf in enumerate(leaves, 1):
        head = f"failure {k} of {len(leaves)}: " if len(leaves) > 1 else ""
        print(f"  {head}{type(leaf).__name__}: {leaf}")
        notes = list(getattr(leaf, "__notes__", []))
        snippets = [n for n in notes if n.startswith("import zheap")]
        if snippets:
            print("  Reproduce with:")
            print(textwrap.indent(snippets[-1], "    "))
        if verbose or not snippets:
            for n in notes:
                if n not in snippets:
                    print(textwrap.indent(n, "    "))
        print()


class _Progress:
    """A line on stderr while a campaign runs: sequences so far, failing ones, phase."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label, self.enabled = label, enabled
        self.sequences = self.failing = 0
        self.last = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last >= 1.0:
            self.last = now
            phase = ", shrinking" if self.failing else ""
            print(
                f"\r  {self.label}: {self.sequences} sequences, {self.failing} failing{phase}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def clear(self) -> None:
        if self.enabled:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    """Run the campaigns; 0 when every allocator passed."""
    ap = argparse.ArgumentParser(prog="python -m zheap fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("allocators", nargs="*", help="names (default: all built-in) or module:factory")
    ap.add_argument(
        "--examples",
        type=int,
        default=100,
        help="Hypothesis's max_examples per allocator (default 100)",
    )
    ap.add_argument("--seed", type=int, default=None, help="a fixed seed, for reproducible runs")
    ap.add_argument(
        "--profile", default=None, help="dev, ci or thorough (default $HYPOTHESIS_PROFILE)"
    )
    ap.add_argument("--verbose", action="store_true", help="also print Hypothesis' own report")
    args = ap.parse_args(argv)

    try:
        from hypothesis import settings
        from hypothesis.stateful import run_state_machine_as_test
    except ImportError:
        print(
            "python -m zheap fuzz needs Hypothesis: pip install 'zheap[fuzz]' "
            "(from a clone: pip install -e '.[fuzz]')",
            file=sys.stderr,
        )
        return 2

    from .testing import profiles
    from .testing.machine import AllocatorMachine

    profile = profiles.load(args.profile)
    names = args.allocators or [*BUILTIN, *_examples()]
    resolved = [(name, *_resolve(name)) for name in names]  # a bad name fails before any run
    failures = 0
    for i, (name, factory, source) in enumerate(resolved, 1):
        ident = re.sub(r"\W", "_", name)
        machine = AllocatorMachine.for_allocator(factory, source=source, name=f"Fuzz_{ident}")
        progress = _Progress(name, sys.stderr.isatty())
        base_init, base_teardown = machine.__init__, machine.teardown

        def counting_init(
            self: AllocatorMachine,
            _init: Callable[..., None] = base_init,
            _progress: _Progress = progress,
        ) -> None:
            _progress.sequences += 1
            _progress.tick()
            _init(self)

        def counting_teardown(
            self: AllocatorMachine,
            _teardown: Callable[..., None] = base_teardown,
            _progress: _Progress = progress,
        ) -> None:
            if sys.exc_info()[1] is not None:
                _progress.failing += 1
            _teardown(self)

        machine.__init__ = counting_init  # type: ignore[method-assign]
        machine.teardown = counting_teardown  # type: ignore[method-assign]
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
            progress.clear()
            failures += 1
            leaves = _root_first(_leaves(exc))
            root = leaves[0]
            print(
                f"FAILED after {time.perf_counter() - start:.1f}s: "
                f"{len(leaves)} distinct failure{'s' if len(leaves) > 1 else ''}; "
                f"first {type(root).__name__}: {str(root).splitlines()[0] if str(root) else ''}"
            )
            _report(exc, args.verbose)
            continue
        progress.clear()
        print(f"ok  {progress.sequences} sequences in {time.perf_counter() - start:.1f}s")
    print(f"\n{len(names) - failures} passed, {failures} failed (profile {profile})")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
