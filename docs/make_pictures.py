"""Regenerate the pictures in docs/img from the guided tour (needs matplotlib).

    python docs/make_pictures.py

Each tour chapter saves its memory maps as docs/img/CHAPTER-N.png and the trace
chapter its timeline; the tutorial pages in docs/allocators/ show them. The
pictures are committed, so run this after changing the tour or the renderer.
"""

import contextlib
import io
import os
import sys

from zheap import tour

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    """Run the tour into docs/img and docs/tour-output.txt."""
    out = os.path.join(HERE, "img")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.endswith(".png"):
            os.remove(os.path.join(out, name))
    with contextlib.redirect_stdout(io.StringIO()) as text:
        rc = tour.main(["--no-pause", "--width", "90", "--png", out])
    with open(os.path.join(HERE, "tour-output.txt"), "w") as f:
        f.write(text.getvalue())
    print(f"{len(os.listdir(out))} pictures in {out}; the tour's text in docs/tour-output.txt")
    return rc


if __name__ == "__main__":
    sys.exit(main())
