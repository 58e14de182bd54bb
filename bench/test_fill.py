"""pytest-benchmark suite: fastkaiming against NumPy, torch.nn.init and memset, same run.

    pytest bench/ --benchmark-group-by=group --benchmark-columns=median,ops
    pytest bench/ --benchmark-disable      # smoke mode: each small case once, untimed

Groups are (distribution, dtype, size), plus a thread sweep; throughput (GB/s, G samples/s)
goes into extra_info. Buffers of 16 MiB and more use benchmark.pedantic with fixed rounds;
the 1 GiB cases are skipped in smoke mode.
"""
import math

import numpy as np
import pytest

import fastkaiming as fk

SIZES = {"4KiB": 4 << 10, "1MiB": 1 << 20, "64MiB": 64 << 20, "1GiB": 1 << 30}
DTYPES = ["float32", "float64", "float16"]
IMPLS = ["fastkaiming", "numpy", "torch", "memset"]


def _buffer(nbytes, dtype):
    n = max(1, nbytes // np.dtype(dtype).itemsize)
    side = math.isqrt(n)
    buf = np.empty((side, side) if side * side == n else (n // 256, 256), dtype)
    buf.fill(0)  # prefault
    return buf


def _skip_large_in_smoke_mode(benchmark, nbytes):
    if benchmark.disabled and nbytes > 64 << 20:
        pytest.skip("smoke mode: buffers above 64 MiB only when timing")


def _run(benchmark, fn, buf, group):
    benchmark.group = group
    if buf.nbytes >= 16 << 20:
        benchmark.pedantic(fn, rounds=5 if buf.nbytes < 1 << 30 else 3, iterations=1, warmup_rounds=1)
    else:
        benchmark(fn)
    if not benchmark.disabled:
        median = benchmark.stats.stats.median
        benchmark.extra_info["GB_per_s"] = buf.nbytes / median / 1e9
        benchmark.extra_info["Gsamples_per_s"] = buf.size / median / 1e9


def _numpy(dist, buf, rng):
    std = math.sqrt(2.0 / buf.shape[1])
    if buf.dtype == np.float16:  # NumPy has no float16 generator: float32, then cast
        tmp = rng.standard_normal(buf.shape, np.float32) if dist == "normal" else rng.random(buf.shape, np.float32)
        buf[...] = tmp
    elif dist == "normal":
        rng.standard_normal(out=buf, dtype=buf.dtype)
    else:
        rng.random(out=buf, dtype=buf.dtype)
    np.multiply(buf, std, out=buf)


def _fill_fn(impl, dist, buf):
    if impl == "fastkaiming":
        fill = fk.kaiming_normal_ if dist == "normal" else fk.kaiming_uniform_
        return lambda: fill(buf, seed=0)
    if impl == "numpy":
        rng = np.random.default_rng(0)
        return lambda: _numpy(dist, buf, rng)
    if impl == "torch":
        torch = pytest.importorskip("torch")
        tensor = torch.from_numpy(buf)  # same memory
        init = torch.nn.init.kaiming_normal_ if dist == "normal" else torch.nn.init.kaiming_uniform_
        return lambda: init(tensor)
    return lambda: buf.fill(0)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dist", ["normal", "uniform"])
@pytest.mark.parametrize("impl", IMPLS)
def test_fill(benchmark, impl, dist, dtype, size):
    _skip_large_in_smoke_mode(benchmark, SIZES[size])
    buf = _buffer(SIZES[size], dtype)
    _run(benchmark, _fill_fn(impl, dist, buf), buf, f"{dist}-{dtype}-{size}")


@pytest.mark.parametrize("threads", [1, 2, 4, 8])
@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_thread_sweep(benchmark, dist, threads):
    buf = _buffer(64 << 20, "float32")
    fill = fk.kaiming_normal_ if dist == "normal" else fk.kaiming_uniform_
    _run(benchmark, lambda: fill(buf, seed=0, threads=threads), buf, f"threads-{dist}-float32-64MiB")
