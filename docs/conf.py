"""Sphinx configuration: the documentation site, from docs/ and the docstrings.

Build: ``pip install -e '.[docs]' && python -m sphinx -W --keep-going docs build/docs``
(CI builds it with warnings as errors).
"""

import zheap

project = "zheap"
author = "zheap developers"
copyright = "zheap developers; ported algorithms (c) Zig contributors, MIT"  # noqa: A001
release = zheap.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["tour-output.txt", "make_pictures.py", "img/*.py"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
html_theme = "alabaster"
html_title = "zheap"
