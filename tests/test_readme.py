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
    optional = {"torch", "dask", "distributed", "ml_dtypes", "safetensors", "jax", "flax", "matplotlib", "keras"}
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


TORCH_VERSION = "2.13.0"  # the version the README's statements about torch were measured with


@pytest.mark.parametrize("dtype,std,bound,share", [("bfloat16", 1.0, 0.1, 0.0015), ("bfloat16", 0.02, 0.04, 0.0014),
                                                    ("float16", 0.02, 0.04, 0.00018)])  # fmt: skip
def test_torch_trunc_normal_leaves_bounds_rounded_outwards(dtype, std, bound, share, isa):
    """The README: torch 2.13.0's trunc_normal_ returns a or b rounded outwards to a 16-bit dtype."""
    torch = pytest.importorskip("torch")
    if torch.__version__.split("+")[0] != TORCH_VERSION:
        pytest.skip(f"the README states torch {TORCH_VERSION}'s behaviour, this is {torch.__version__}")
    if isa != max(ISA_NAME):
        pytest.skip("one kernel is enough")
    import fastkaiming as fk

    n = 1 << 20
    torch.manual_seed(0)
    t = torch.nn.init.trunc_normal_(torch.empty(n, dtype=getattr(torch, dtype)), std=std, a=-bound, b=bound)
    outside = t[(t.double() < -bound) | (t.double() > bound)].double()
    rounded = torch.tensor([-bound, bound], dtype=getattr(torch, dtype)).double()
    assert rounded[0] < -bound and rounded[1] > bound  # both bounds round outwards in this dtype
    assert set(outside.tolist()) <= set(rounded.tolist())
    assert outside.numel() == pytest.approx(share * n, rel=0.2)  # seeded, version pinned: a fixed count
    # the old bias (pytorch/pytorch#145498: values stuck at a) is gone
    small = torch.nn.init.trunc_normal_(torch.empty(n, dtype=getattr(torch, dtype)), std=0.01, a=-2.0, b=2.0)
    assert not ((small == -2) | (small == 2)).any() and abs(small.double().std().item() - 0.01) < 1e-4
    # fastkaiming rounds the bounds inwards: nothing outside [a, b]
    u = fk.trunc_normal_(torch.empty(n, dtype=getattr(torch, dtype)), std=std, a=-bound, b=bound, seed=0)
    assert -bound <= u.double().min().item() and u.double().max().item() <= bound


def test_layout_names_every_source_file():
    """The Layout section lists every file of the source tree (generated files excepted)."""
    root = README.parent
    text = README.read_text()
    layout = text[text.index("## Layout"):]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    patterns = ["csrc/*", "src/fastkaiming/*", "src/fastkaiming/torch/*", "tests/*.py", "bench/*", "tools/*", "examples/*", "docs/*.md"]
    files = {path.name for pattern in patterns for path in root.glob(pattern) if path.is_file()}
    generated = {name for name in files if name.endswith((".c", ".so", ".pyd")) and name.startswith("_core")}
    tests = {name for name in files if name.startswith("test_")}  # named by subject, not one by one
    missing = sorted(name for name in files - generated - tests if name not in layout)
    assert not missing, f"README's Layout does not name {missing}"


def written_signature(function):
    """`name(a, b=1, *, c=None)` as the README writes it: no annotations, strings in double quotes."""
    import inspect

    parts, star = [], False
    for p in inspect.signature(function).parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        default = "" if p.default is p.empty else "=" + repr(p.default).replace("'", '"')
        parts.append(p.name + default)
    return f"{function.__name__}({', '.join(parts)})"


def test_api_table_signatures_are_the_code():
    import fastkaiming as fk

    text = README.read_text()
    api = text[text.index("## API"):text.index("## Kernels")]
    written = [s for s in re.findall(r"^\| `(\w+\([^`]*\))`", api, flags=re.M) if "**" not in s]
    assert len(written) >= 8
    for signature in written:
        actual = written_signature(getattr(fk, signature.split("(")[0]))
        if signature.endswith("...)"):  # the leading parameters, in order
            assert actual.startswith(signature[: -len("...)")].rstrip(", ")), (signature, actual)
        else:
            assert signature == actual
