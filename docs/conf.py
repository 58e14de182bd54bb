"""Sphinx configuration: numpydoc docstrings, MyST pages, the pydata theme (as numpy and
scikit-learn). Build: ``make -C docs html`` (warnings are errors) and ``make -C docs doctest``."""
from __future__ import annotations

import os
import sys

import fastkaiming

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_ext"))
os.environ.setdefault("KERAS_BACKEND", "numpy")  # fastkaiming.keras's pages; fixed at import

project = "fastkaiming"
author = "the fastkaiming developers"
copyright = "2026, the fastkaiming developers"
release = version = fastkaiming.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "plain_docstrings",  # docs/_ext: name_, *args, |x| in docstring prose shown as written
    "numpydoc",
    "myst_parser",
    "sphinxarg.ext",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# One generated page per public function and class (docs/api/generated, git-ignored)
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # the numpydoc Parameters section says the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_enable_extensions = ["colon_fence", "dollarmath"]
smartquotes_action = "qe"  # quotes and ellipses; never -- into a dash (--seed, --init)
myst_heading_anchors = 3

# Every doctest block (the docstrings' Examples included) and every testcode block runs with:
doctest_global_setup = """
import numpy as np
import fastkaiming as fk
"""

html_theme = "pydata_sphinx_theme"
html_title = f"fastkaiming {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []
