"""The README's Python examples run as written and say what they claim.

Each ```python block runs on its own, as a reader would paste it: a fresh interpreter in a fresh
temporary folder, with nothing imported for it beforehand. A block whose imports name an optional
package that is not installed (torch, dask, ml_dtypes, ...) is skipped.
"""
import ast
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

from fastkaiming import _core

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
pytestmark = pytest.mark.skipif(not README.exists(), reason="needs the source tree")
ISA_NAME = {code: name for name, code in _core.isa_names().items()}


def blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def imported_packages(source):
    """The top-level packages a block imports, fastkaiming's optional submodules included."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module.split(".") + [alias.name] for alias in node.names]
        else:
            continue
        for parts in modules:  # `import fastkaiming.dask`, `from fastkaiming import torch`
            names.update(parts if parts[0] == "fastkaiming" else parts[:1])
    return names


def missing(source):
    optional = {"torch", "dask", "distributed", "ml_dtypes", "safetensors", "jax", "matplotlib"}
    return sorted(name for name in imported_packages(source) & optional
                  if importlib.util.find_spec(name) is None)  # fmt: skip


def test_readme_has_examples():
    assert len(blocks()) >= 2


def test_imported_packages_reads_submodule_imports():
    assert imported_packages("import numpy as np\nfrom fastkaiming import torch as init\n") >= {
        "numpy", "fastkaiming", "torch"}  # fmt: skip
    assert "dask" in imported_packages("import fastkaiming.dask\n")


@pytest.mark.parametrize("index", range(len(blocks()) if README.exists() else 0))
def test_readme_example_runs_standalone(index, tmp_path, isa):
    block = blocks()[index]
    if missing(block):
        pytest.skip(f"needs {', '.join(missing(block))}")
    env = dict(os.environ, FASTKAIMING_ISA=ISA_NAME[isa])
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, f"README block {index} failed as written:\n{block}\n{result.stderr}"
