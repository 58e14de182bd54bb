"""Every public function's docstring describes every parameter of its signature (numpydoc).

numpydoc.validate checks each public name of fastkaiming, fastkaiming.torch, fastkaiming.dask,
fastkaiming.jax and fastkaiming.keras (where they import):
no parameter left undocumented (PR01), none documented that the signature lacks (PR02), and a
Returns (or Yields) and an Examples section. The examples themselves run in the docs' doctest
build (docs/Makefile: make doctest).
"""
import importlib
import inspect
import pathlib

import pytest

import fastkaiming as fk

validate = pytest.importorskip("numpydoc.validate")

MODULES = ["fastkaiming", "fastkaiming.torch", "fastkaiming.dask", "fastkaiming.jax", "fastkaiming.keras"]
REQUIRED = MODULES[:3]  # the others are checked where jax and keras (and a Keras backend) import
CHECKED = ("PR01", "PR02", "RT01", "EX01")  # RT01: no Returns section; EX01: no Examples section


@pytest.fixture(autouse=True)
def _once(isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("docstrings do not depend on the kernel")


def _public(module_name):
    """(qualified name, object) of each public function and class of a module, and each public
    method of its classes."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return []
    found = []
    for name in module.__all__:
        obj = getattr(module, name)
        if not callable(obj):  # __version__
            continue
        qual = f"{module_name}.{name}"
        found.append((qual, obj))
        if inspect.isclass(obj):
            found += [(f"{qual}.{m}", getattr(obj, m)) for m in vars(obj) if not m.startswith("_")]
    return found


NAMES = [qual for m in MODULES for qual, _ in _public(m)]


def test_every_module_is_checked():
    pytest.importorskip("torch")
    pytest.importorskip("dask.array")
    modules = {q.rsplit(".", 1)[0] for q in NAMES}
    assert set(REQUIRED) <= modules
    assert len(NAMES) >= 60


def test_generator_methods_and_file_writers_are_checked():
    methods = {f"fastkaiming.Generator.{m}" for m in ("seed", "next_stream", "fill", "kaiming_normal_", "random_raw")}
    assert methods | {"fastkaiming.Generator", "fastkaiming.init_file", "fastkaiming.init_safetensors"} <= set(NAMES)


def test_generator_method_docstring_is_the_fills_without_seed_and_stream():
    doc = fk.Generator.trunc_normal_.__doc__
    assert doc.startswith(":func:`fastkaiming.trunc_normal_` with the generator's seed, on its next stream; "
                          "the same parameters but seed= and stream=.\n\nFill `tensor` in place")
    params = doc.split("Parameters\n----------\n", 1)[1].split("\n\n", 1)[0]
    names = [line.split(" :")[0] for line in params.splitlines() if line and not line[0].isspace()]
    assert names == [p for p in inspect.signature(fk.Generator.trunc_normal_).parameters if p != "self"]
    assert "TypeError\n    `seed` or `stream` is given: the generator gives them." in doc
    assert ">>> second = g.trunc_normal_(np.empty((64, 32), np.float32))    # stream 1" in doc


@pytest.mark.parametrize("qual", NAMES)
def test_docstring_describes_the_signature(qual):
    result = validate.validate(qual)
    errors = [f"{code}: {message}" for code, message in result["errors"] if code in CHECKED]
    assert not errors, f"{qual}: " + "; ".join(errors)


@pytest.mark.parametrize("name", ["normal", "kaiming_normal", "he_normal", "trunc_normal", "variance_scaling",
                                  "xavier_uniform"])
def test_constructor_signature_is_shape_dtype_then_the_fill(name):
    params = inspect.signature(getattr(fk, name)).parameters
    fill = inspect.signature(getattr(fk, name + "_")).parameters
    assert list(params)[:2] == ["shape", "dtype"]
    assert params["dtype"].default == "float32"
    assert list(params)[2:] == [p for p in list(fill)[1:] if p != "dtype"]
    for p in list(params)[2:]:
        assert params[p].default == fill[p].default and params[p].kind == fill[p].kind


def test_constructor_signature_exact():
    assert str(inspect.signature(fk.normal)).startswith(
        "(shape: 'int | Sequence[int]', dtype: 'object' = 'float32', mean: 'float' = 0.0, std: 'float' = 1.0, *, "
        "seed: 'int | None' = None, stream: 'int' = 0, offset: 'int' = 0,"
    )
    assert "tensor" not in inspect.signature(fk.kaiming_uniform).parameters


def test_constructor_positional_arguments_follow_the_signature():
    import numpy as np

    a = fk.normal((3, 4), "float64", 1.0, 2.0, seed=5)
    b = fk.normal_(np.empty((3, 4), np.float64), 1.0, 2.0, seed=5)
    assert a.dtype == np.float64 and (a == b).all()
    inspect.signature(fk.normal).bind((3, 4), "float64", 1.0, 2.0, seed=5)  # the signature accepts the call


def test_dask_signature():
    dask = pytest.importorskip("fastkaiming.dask", exc_type=ImportError)
    params = inspect.signature(dask.kaiming_normal).parameters
    assert list(params)[:3] == ["shape", "chunks", "dtype"]
    assert params["threads"].default == 1 and params["chunks"].default == "auto"
    assert "global_shape" not in params and "block_start" not in params
    assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in list(params)[3:])


@pytest.mark.parametrize("module_name", MODULES)
def test_all_names_exist_and_are_public(module_name):
    module = pytest.importorskip(module_name, exc_type=ImportError)
    assert module.__all__ == sorted(module.__all__) or module_name == "fastkaiming.dask"
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name) and (not name.startswith("_") or name == "__version__"), name


def test_torch_all_has_the_documented_helpers():
    fki = pytest.importorskip("fastkaiming.torch", exc_type=ImportError)
    assert {"calculate_gain", "kaiming_std", "stream_for", "init_module_"} <= set(fki.__all__)
    assert "compute_fans" not in fki.__all__  # fastkaiming.compute_fans is the public one


def test_dask_all_is_every_constructor():
    dask = pytest.importorskip("fastkaiming.dask", exc_type=ImportError)
    from fastkaiming._constructors import NAMES

    assert dask.__all__ == list(NAMES)


def test_fill_in_indents_fragments_and_drops_emptied_sections():
    from fastkaiming import _docs

    doc = ("Summary.\n\n    Parameters\n    ----------\n    {stream}\n\n    Warns\n    -----\n    {warns}\n\n"
           "    See Also\n    --------\n    normal\n")
    filled = _docs.fill_in(doc, {"warns": ""})
    assert "    stream : int, default 0\n        The Philox stream" in filled
    assert "Warns" not in filled and "See Also" in filled
    assert _docs.fill_in("a {seed} in a sentence stays\n", {}) == "a {seed} in a sentence stays\n"
    with pytest.raises(KeyError, match="nope"):
        _docs.fill_in("    {nope}\n", {})


DOCS_EXT = pathlib.Path(__file__).resolve().parents[1] / "docs" / "_ext"


@pytest.mark.skipif(not DOCS_EXT.exists(), reason="needs the source tree (docs/_ext)")
def test_docs_escape_rst_markers_in_prose_only(monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS_EXT))
    from plain_docstrings import escape_lines

    lines = [
        "Fill as torch.nn.init.kaiming_normal_, in (out, in, *kernel) layout; |z| <= 6.66.",
        "Code stays: ``normal_(w)`` and :func:`fastkaiming.normal_`; fan_in stays.",
        "",
        ">>> fk.normal_(w, seed=0) is w",
        "True",
        "",
        "See Also",
        "--------",
        "kaiming_uniform_ : The uniform one.",
    ]
    escape_lines(lines)
    assert lines[0] == r"Fill as torch.nn.init.kaiming_normal\_, in (out, in, \*kernel) layout; \|z\| <= 6.66."
    assert lines[1] == "Code stays: ``normal_(w)`` and :func:`fastkaiming.normal_`; fan_in stays."
    assert lines[3:5] == [">>> fk.normal_(w, seed=0) is w", "True"]
    assert lines[-1] == "kaiming_uniform_ : The uniform one."
