"""``python -m zheap``: the guided tour of the allocators (:mod:`zheap.tour`).

``python -m zheap tour [NAME...] [--no-pause] [--png DIR]`` runs chapters of it;
``python -m zheap fuzz ...`` runs fuzz campaigns instead (see :mod:`zheap.fuzz`);
``python -m zheap selftest ...`` runs zheap's own hostile-API fuzzer (see :mod:`zheap.selftest`);
``python -m zheap lab ...`` scores allocators on malloc-lab traces (see :mod:`zheap.lab`).
"""

from __future__ import annotations

import sys

USAGE = """\
usage: python -m zheap [tour] [NAME...] [--no-pause] [--png DIR] [--width N]
       python -m zheap fuzz [ALLOCATOR...] [--examples N] [--seed S] [--profile P]
       python -m zheap selftest [--calls N] [--seed S] [--timeout SEC] [--jobs J] [--verbose]
       python -m zheap lab [TRACE.rep|DIR...] [--allocator NAME|module:factory] [--generate DIR]

subcommands:
  tour      the guided tour of the allocators (the default)
  fuzz      Hypothesis fuzz campaigns over zheap's allocators or your own
  selftest  zheap's own hostile-API fuzzer: crashes, hangs and broken promises
  lab       the malloc lab: replay .rep traces, check every block, score like mdriver

Run `python -m zheap SUBCOMMAND --help` for a subcommand's options.
"""


def main(argv: list[str]) -> int:
    """Run the tour, or the ``fuzz`` / ``selftest`` / ``lab`` subcommand named first."""
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    if argv[:1] == ["fuzz"]:
        from .fuzz import main as fuzz_main

        return fuzz_main(argv[1:])
    if argv[:1] == ["lab"]:
        from .lab import main as lab_main

        return lab_main(argv[1:])
    if argv[:1] == ["selftest"]:
        from .selftest import main as selftest_main

        return selftest_main(argv[1:])
    from .tour import main as tour_main

    return tour_main(argv[1:] if argv[:1] == ["tour"] else argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
