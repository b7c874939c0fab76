"""``python -m zheap``: the guided tour of the allocators (:mod:`zheap.tour`).

``python -m zheap tour [NAME...] [--no-pause] [--png DIR]`` runs chapters of it;
``python -m zheap fuzz ...`` runs fuzz campaigns instead (see :mod:`zheap.fuzz`).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Run the tour, or ``fuzz`` campaigns when the first argument is ``fuzz``."""
    if argv[:1] == ["fuzz"]:
        from .fuzz import main as fuzz_main

        return fuzz_main(argv[1:])
    from .tour import main as tour_main

    return tour_main(argv[1:] if argv[:1] == ["tour"] else argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
