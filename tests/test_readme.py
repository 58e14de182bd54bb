"""The README stays short, its Python examples run as written, and the links of the README and
the docs pages lead somewhere.

Each ```python block of the README runs on its own, as a reader would paste it: a fresh
interpreter in a fresh temporary folder, with nothing imported for it beforehand. A block whose
imports name an optional package that is not installed (torch, dask, transformers, ...) is
skipped. The docs pages' examples run in the Sphinx doctest build (make -C docs doctest); the
claims of theirs checked here are the ones the doctest build cannot check (a torch version's
behaviour, the source layout).
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

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
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
    optional = {"torch", "dask", "distributed", "ml_dtypes", "safetensors", "jax", "flax", "matplotlib", "keras",
                "transformers"}
    return sorted(name for name in imported_packages(source) & optional
                  if importlib.util.find_spec(name) is None)  # fmt: skip


def test_readme_has_examples():
    assert len(blocks()) >= 5  # NumPy, PyTorch, Dask, Keras, JAX


def test_readme_is_short():
    """One or two screens: what it is, the Quick start, an example per framework, the links."""
    lines = README.read_text().splitlines()
    assert len(lines) <= 160, f"README.md has {len(lines)} lines; move the detail into docs/"


QUICK_START = [
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/fastkaiming bench",
    'python3 -m venv .venv && .venv/bin/pip install ".[test]" && .venv/bin/python -m pytest',
]


def test_quick_start_commands_and_ci():
    """The Quick start is these two commands, and CI runs the second verbatim."""
    text = README.read_text()
    quick = text[text.index("## Quick start"):]
    assert re.search(r"```sh\n(.*?)```", quick, flags=re.S).group(1).splitlines() == QUICK_START
    assert QUICK_START[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def markdown_pages():
    return [README, *sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.relative_to(DOCS).parts)]


def relative_links(text):
    """The targets of [text](target) and ![alt](target) outside code, without #fragments."""
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)  # fenced blocks
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:|#", t)]


def test_relative_links_finds_links():
    text = "[a](docs/x.md) ![b](y.png#z) [c](https://e.org) [d](#here) `[e](no.md)`\n```\n[f](no.md)\n```\n"
    assert relative_links(text) == ["docs/x.md", "y.png"]


@pytest.mark.parametrize("page", markdown_pages() if DOCS.exists() else [], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(page):
    broken = [t for t in relative_links(page.read_text()) if not (page.parent / t).is_file()]
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


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


TORCH_VERSION = "2.13.0"  # the version the docs' statements about torch were measured with


@pytest.mark.parametrize("dtype,std,bound,share", [("bfloat16", 1.0, 0.1, 0.0015), ("bfloat16", 0.02, 0.04, 0.0014),
                                                    ("float16", 0.02, 0.04, 0.00018)])  # fmt: skip
def test_torch_trunc_normal_leaves_bounds_rounded_outwards(dtype, std, bound, share, isa):
    """docs/concepts.md: torch 2.13.0's trunc_normal_ returns a or b rounded outwards to a 16-bit dtype."""
    torch = pytest.importorskip("torch")
    if torch.__version__.split("+")[0] != TORCH_VERSION:
        pytest.skip(f"the docs state torch {TORCH_VERSION}'s behaviour, this is {torch.__version__}")
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
    """docs/development.md's Layout lists every file of the source tree (generated files excepted)."""
    text = (DOCS / "development.md").read_text()
    layout = text[text.index("## Layout"):]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    patterns = ["csrc/*", "src/fastkaiming/**/*", "tests/*.py", "bench/*", "tools/*", "examples/*", "docs/*.md",
                "docs/guides/*.md"]  # fmt: skip
    files = {path.name for pattern in patterns for path in ROOT.glob(pattern)
             if path.is_file() and "__pycache__" not in path.parts}  # fmt: skip
    generated = {name for name in files if name.endswith((".c", ".so", ".pyd")) and name.startswith("_core")}
    tests = {name for name in files if name.startswith("test_")}  # named by subject, not one by one
    missing = sorted(name for name in files - generated - tests if name not in layout)
    assert not missing, f"docs/development.md's Layout does not name {missing}"


ASSUMED = "The examples on this page assume `import numpy as np` and `import fastkaiming as fk`."


def test_pages_whose_examples_lean_on_the_doctest_setup_say_so():
    """docs/conf.py's doctest_global_setup imports np and fk for every {testcode} block; a reader
    pasting a block gets no such setup, so a page with a block using them unimported says so."""
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        text = page.read_text()
        for block in re.findall(r"```\{testcode\}[^\n]*\n(.*?)```", text, flags=re.S):
            leans = (re.search(r"\bnp\.", block) and "import numpy as np" not in block) or (
                re.search(r"\bfk\.", block) and "import fastkaiming as fk" not in block)
            assert not leans or ASSUMED in text, f"{page.relative_to(ROOT)} uses np/fk unimported without saying so"
