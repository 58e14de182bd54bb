"""The package's import graph: no circle, and the core reaches the torch adapter one way only.

Each module of the installed package is parsed with ast. A module-level import is an edge of
the static graph, which must be acyclic; an import inside a function runs later (lazily) and is
kept apart. Importing fastkaiming.torch._x from outside fastkaiming.torch also imports
fastkaiming.torch (its __init__); a module's own parent packages are imported before it and are
no edge. The core (every module outside fastkaiming.torch) may name fastkaiming.torch only in
_adapters, and only lazily.
"""
import ast
import pathlib
import subprocess
import sys

import pytest

import fastkaiming
from fastkaiming import _core

TOP = "fastkaiming"
ADAPTER = "fastkaiming.torch"
ROOT = pathlib.Path(fastkaiming.__file__).parent

# fastkaiming.torch.__all__ as it was when torch.py became the fastkaiming.torch package
TORCH_ALL = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "fast_init",
    "init_module_",
    "kaiming_normal_",
    "kaiming_std",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "stream_for",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


@pytest.fixture(autouse=True)
def _once(isa):
    if isa != max(_core.isa_names().values()):
        pytest.skip("the import graph does not depend on the kernel")


def _modules():
    """Module name -> its source file, for every .py file of the installed package."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = [TOP, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _package_of(module):
    """The package a module's relative imports start from."""
    return module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]


def _targets(module, node):
    """The package's modules an Import or ImportFrom node imports."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = _package_of(module).split(".")
            base = ".".join(base[: len(base) - node.level + 1])
            source = f"{base}.{node.module}" if node.module else base
        else:
            source = node.module
        # `from package import name`: the submodule package.name if there is one, else the package
        names = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
    return {name for name in names if name.split(".")[0] == TOP}


def _function_level(tree):
    """The import nodes inside functions (run when called, not when the module is imported)."""
    return {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}  # fmt: skip


def _edges(module, targets):
    """What importing `targets` from `module` runs: each target, and each of its parent
    packages below fastkaiming that is not a parent of `module` (already being imported)."""
    own = {module.rsplit(".", k)[0] for k in range(module.count(".") + 1)}
    found = set()
    for target in targets:
        parts = target.split(".")
        for end in range(2, len(parts) + 1):
            name = ".".join(parts[:end])
            if name in MODULES and name not in own:
                found.add(name)
    return found


def _graphs():
    """(module-level graph, function-level graph): module -> the modules it imports."""
    static, lazy = {}, {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        inner = _function_level(tree)
        static[module], lazy[module] = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph = lazy if id(node) in inner else static
                graph[module] |= _edges(module, _targets(module, node))
    return static, lazy


def find_cycle(graph):
    """One circle of `graph` (module -> modules) as a list that starts and ends at one module,
    or None."""
    state = {}  # 1: on the current path, 2: done
    path = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _is_adapter(module):
    return module == ADAPTER or module.startswith(ADAPTER + ".")


STATIC, LAZY = _graphs()


def test_every_module_is_parsed():
    assert {"fastkaiming._api", "fastkaiming._buffers", "fastkaiming._adapters", "fastkaiming._dtypes",
            "fastkaiming.torch", "fastkaiming.torch._intake", "fastkaiming.torch._routing",
            "fastkaiming.torch._dropins", "fastkaiming.torch._modules",
            "fastkaiming.torch._fast_init"} <= set(MODULES)  # fmt: skip
    assert STATIC["fastkaiming._api"] >= {"fastkaiming._adapters", "fastkaiming._buffers"}
    assert STATIC["fastkaiming.torch._intake"] >= {"fastkaiming._dtypes", "fastkaiming._checks"}
    # from outside, a module of fastkaiming.torch brings fastkaiming.torch (its __init__) with it
    assert LAZY["fastkaiming._adapters"] == {ADAPTER, "fastkaiming.torch._intake", "fastkaiming.torch._routing"}


def test_find_cycle_finds_a_circle_and_only_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_module_level_graph_is_acyclic():
    assert find_cycle(STATIC) is None


def test_the_core_reaches_the_torch_adapter_only_lazily_through_adapters():
    core = [m for m in MODULES if not _is_adapter(m)]
    naming = {m for m in core if any(_is_adapter(t) for t in STATIC[m] | LAZY[m])}
    assert naming == {"fastkaiming._adapters"}
    assert not any(_is_adapter(t) for t in STATIC["fastkaiming._adapters"])


def test_the_adapter_imports_down_the_floors():
    """A tensor's trip goes down: _intake imports no other module of the adapter, _routing only
    _intake, and no module of the adapter imports _adapters (the core's way in)."""
    inside = {m: {t for t in STATIC[m] | LAZY[m] if _is_adapter(t)} for m in MODULES if _is_adapter(m)}
    assert inside["fastkaiming.torch._intake"] == set()
    assert inside["fastkaiming.torch._routing"] == {"fastkaiming.torch._intake"}
    assert not any("fastkaiming._adapters" in STATIC[m] | LAZY[m] for m in inside)


def test_import_fastkaiming_does_not_import_torch():
    code = ("import sys, fastkaiming\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'fastkaiming.torch'))))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_torch_public_names_are_unchanged():
    fki = pytest.importorskip("fastkaiming.torch", exc_type=ImportError)
    from fastkaiming import _blocks, _fans

    assert fki.__all__ == TORCH_ALL
    assert fki.stream_for is _blocks.stream_for
    assert fki.calculate_gain is _fans.calculate_gain is fastkaiming.calculate_gain
    assert fki.kaiming_std is _fans.kaiming_std
    for name in TORCH_ALL:
        assert getattr(fki, name).__module__.startswith(("fastkaiming.torch", "fastkaiming._")), name
