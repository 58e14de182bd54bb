"""Kernel dispatch: every path gives the same bits; FASTKAIMING_ISA; runtime_info()."""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import fastkaiming as fk
import fastkaiming._api as api
from fastkaiming import _core

PATHS = _core.isa_names()
FILLS = {
    "normal": lambda t, **kw: fk.normal_(t, 0.25, 3.0, **kw),
    "uniform": lambda t, **kw: fk.uniform_(t, -1.5, 0.5, **kw),
    "trunc_normal": lambda t, **kw: fk.trunc_normal_(t, 0.1, 0.5, -0.6, 0.9, **kw),
}
CARRY = 4 * ((1 << 32) - 5)  # blocks whose counter crosses 2**32 a few samples in


def bits(x):
    return x.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


def on_every_path(fn, monkeypatch):
    out = {}
    for name, code in PATHS.items():
        monkeypatch.setattr(api, "_ISA", code)
        out[name] = fn()
    return out


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("fill", FILLS)
def test_all_paths_bit_identical(dtype, fill, monkeypatch):
    for offset in (0, 1, 3, 5, 7, 63, 1001, CARRY, CARRY + 3):
        for n in (1, 2, 7, 63, 64, 255, 257, 1024, 4099):
            got = on_every_path(lambda n=n, o=offset: FILLS[fill](np.empty(n, dtype), seed=77, stream=5, offset=o), monkeypatch)
            ref = got.pop("scalar")
            for name, values in got.items():
                np.testing.assert_array_equal(bits(values), bits(ref), err_msg=f"{name} n={n} offset={offset}")


@pytest.mark.parametrize("fill", FILLS)
def test_bfloat16_bit_identical(fill, monkeypatch):
    def run(n, offset):
        raw = bytearray(2 * n)
        FILLS[fill](raw, seed=5, offset=offset, dtype="bfloat16")
        return np.frombuffer(raw, np.uint16)

    for offset in (0, 3, CARRY + 1):
        for n in (1, 63, 257, 4099):
            got = on_every_path(lambda n=n, o=offset: run(n, o), monkeypatch)
            ref = got.pop("scalar")
            for name, values in got.items():
                np.testing.assert_array_equal(values, ref, err_msg=f"{name} n={n} offset={offset}")


def test_raw_words_bit_identical(monkeypatch):
    for offset in (0, 1, 2, 3, 5, CARRY, CARRY + 1):
        got = on_every_path(lambda o=offset: fk.random_raw(np.empty(1031, np.uint32), seed=3, offset=o), monkeypatch)
        ref = got.pop("scalar")
        for name, values in got.items():
            np.testing.assert_array_equal(values, ref, err_msg=f"{name} offset={offset}")


def test_large_threaded_fill_bit_identical(monkeypatch):
    n = (1 << 20) + 13
    got = on_every_path(lambda: fk.normal_(np.empty(n, np.float32), seed=1, offset=3, threads=2), monkeypatch)
    ref = got.pop("scalar")
    for name, values in got.items():
        np.testing.assert_array_equal(bits(values), bits(ref), err_msg=name)


def test_runtime_info():
    info = fk.runtime_info()
    assert info["version"] == fk.__version__
    assert info["isa"] in info["isa_available"]
    assert info["isa_available"][0] == "scalar"
    assert set(info["isa_available"]) <= {"scalar", "avx2", "avx512", "neon"}
    assert isinstance(info["threads"], int) and info["threads"] >= 1


def _run(code, **env):
    full = {k: v for k, v in os.environ.items() if k != "FASTKAIMING_ISA"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full)


@pytest.mark.parametrize("name", sorted(PATHS))
def test_env_forces_a_path(name):
    proc = _run("import fastkaiming as fk; print(fk.runtime_info()['isa'])", FASTKAIMING_ISA=name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == name


def test_env_default_is_the_widest():
    proc = _run("import fastkaiming as fk; print(fk.runtime_info()['isa'])")
    assert proc.stdout.strip() == max(PATHS, key=PATHS.get)


def test_env_unknown_path():
    proc = _run("import fastkaiming", FASTKAIMING_ISA="sse2")
    assert proc.returncode != 0
    assert "ImportError: FASTKAIMING_ISA='sse2' is not a kernel name; use one of scalar, avx2, avx512, neon" in proc.stderr


def test_kernels_of_the_architecture():
    """x86-64 builds have avx2/avx512 (if the CPU does) and never neon; AArch64 always neon."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        assert "neon" not in PATHS
    elif machine in ("aarch64", "arm64"):
        assert "neon" in PATHS and not {"avx2", "avx512"} & set(PATHS)
    assert _core.ISA_ALL == ("scalar", "avx2", "avx512", "neon")  # codes are stable


def test_env_path_the_cpu_lacks():
    missing = next(n for n in ("neon", "avx512", "avx2") if n not in PATHS)
    proc = _run("import fastkaiming", FASTKAIMING_ISA=missing)
    assert proc.returncode != 0 and "cannot run it" in proc.stderr
