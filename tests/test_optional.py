"""Optional submodules: fk.dask and fk.torch are attributes imported on first use (PEP 562)."""
import subprocess
import sys

import pytest

import fastkaiming as fk


@pytest.fixture(autouse=True)
def _once(isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("a fresh process runs the default kernel")


def _run(code):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_fastkaiming_imports_neither_torch_nor_dask():
    out = _run(
        "import sys, fastkaiming as fk\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'dask', 'distributed', 'jax')))\n"
        "print('dask' in dir(fk), 'torch' in dir(fk), 'jax' in dir(fk))\n"
    )
    assert out.split("\n")[:2] == ["[]", "True True True"]


@pytest.mark.parametrize("form", ["fk.{name}", "import fastkaiming.{name}", "from fastkaiming import {name}",
                                  "import fastkaiming.{name} as m"])  # fmt: skip
@pytest.mark.parametrize("name,extra", [("dask", "dask"), ("torch", "torch"), ("jax", "jax")])
def test_missing_dependency_names_the_extra(name, extra, form):
    out = _run(
        f"import sys\nsys.modules[{name!r}] = None  # as if not installed\n"
        "import fastkaiming as fk\n"
        f"try:\n    {form.format(name=name)}\nexcept ImportError as e:\n    print(e)\n"
    )
    assert f'pip install "fastkaiming[{extra}]"' in out
    assert f"fastkaiming.{name} needs {name}" in out
    assert out.count("pip install") == 1  # named once, not wrapped twice


def test_dask_is_an_attribute_on_demand():
    pytest.importorskip("dask.array")
    out = _run("import fastkaiming as fk\nx = fk.dask.he_normal((4, 6), 2, seed=1)\nprint(type(x).__name__)\n"
               "import fastkaiming.dask\nprint(fk.dask is fastkaiming.dask)")
    assert out.split() == ["Array", "True"]


def test_torch_is_an_attribute_on_demand():
    pytest.importorskip("torch")
    out = _run("import fastkaiming as fk\nimport torch\nw = torch.empty(3, 4)\n"
               "print(fk.torch.kaiming_normal_(w, seed=0) is w)")
    assert out.split() == ["True"]


def test_jax_is_an_attribute_on_demand():
    pytest.importorskip("jax")
    out = _run("import fastkaiming as fk\nimport jax\nw = fk.jax.he_normal()(jax.random.key(3), (4, 6))\n"
               "print((w == fk.he_normal((4, 6), seed=3)).all())")
    assert out.split() == ["True"]


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="module 'fastkaiming' has no attribute 'nope'"):
        fk.nope  # noqa: B018
