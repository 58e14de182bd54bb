"""pytest-benchmark suite: fastkaiming against NumPy and memset, measured in the same run.

    pytest bench/ --benchmark-group-by=group --benchmark-columns=median,ops
    pytest bench/ --benchmark-disable      # smoke mode: each case runs once, untimed

Groups are (distribution, dtype, size); throughput goes into extra_info. Large buffers use
benchmark.pedantic with a fixed number of rounds.
"""
import math

import numpy as np
import pytest

import fastkaiming as fk

SIZES = {"4KiB": 4 << 10, "1MiB": 1 << 20, "64MiB": 64 << 20}
DTYPES = ["float32", "float64", "float16"]


def _buffer(nbytes, dtype):
    n = max(1, nbytes // np.dtype(dtype).itemsize)
    buf = np.empty((n // 256, 256) if n >= 512 else (1, n), dtype)
    buf.fill(0)  # prefault
    return buf


def _run(benchmark, fn, buf, group):
    benchmark.group = group
    if buf.nbytes >= 16 << 20:
        benchmark.pedantic(fn, rounds=5, iterations=1, warmup_rounds=1)
    else:
        benchmark(fn)
    if benchmark.stats is not None:  # None under --benchmark-disable
        median = benchmark.stats.stats.median
        benchmark.extra_info["GB_per_s"] = buf.nbytes / median / 1e9
        benchmark.extra_info["Gsamples_per_s"] = buf.size / median / 1e9


def _numpy(dist, buf, rng):
    std = math.sqrt(2.0 / buf.shape[1])
    if buf.dtype == np.float16:  # NumPy has no float16 generator
        tmp = rng.standard_normal(buf.shape, np.float32) if dist == "normal" else rng.random(buf.shape, np.float32)
        buf[...] = tmp
    elif dist == "normal":
        rng.standard_normal(out=buf, dtype=buf.dtype)
    else:
        rng.random(out=buf, dtype=buf.dtype)
    np.multiply(buf, std, out=buf)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dist", ["normal", "uniform"])
@pytest.mark.parametrize("impl", ["fastkaiming", "numpy", "memset"])
def test_fill(benchmark, impl, dist, dtype, size):
    buf = _buffer(SIZES[size], dtype)
    if impl == "fastkaiming":
        fill = fk.kaiming_normal_ if dist == "normal" else fk.kaiming_uniform_
        fn = lambda: fill(buf, seed=0)  # noqa: E731
    elif impl == "numpy":
        rng = np.random.default_rng(0)
        fn = lambda: _numpy(dist, buf, rng)  # noqa: E731
    else:
        fn = lambda: buf.fill(0)  # noqa: E731
    _run(benchmark, fn, buf, f"{dist}-{dtype}-{size}")


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_thread_sweep(benchmark, dist, threads):
    buf = _buffer(64 << 20, "float32")
    fill = fk.kaiming_normal_ if dist == "normal" else fk.kaiming_uniform_
    _run(benchmark, lambda: fill(buf, seed=0, threads=threads), buf, f"threads-{dist}-float32-64MiB")
