"""`python -m fastkaiming bench`: fill one large buffer, next to NumPy and memset."""
from __future__ import annotations

import json
import math
import platform
import re
import statistics
import time
from collections.abc import Callable

import numpy as np

from . import _checks
from ._api import kaiming_normal_, kaiming_uniform_
from ._version import __version__

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30}  # fmt: skip


def parse_size(text: str) -> int:
    """'1GiB', '256MiB', '4096', '1.5GB' -> bytes."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"size must look like 1GiB, 256MiB, 4KiB or a byte count, got {text!r}")
    size = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if size <= 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return size


def default_size() -> int:
    """1 GiB, or a quarter of the available memory if that is smaller."""
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return 1 << 30
    return min(1 << 30, max(1 << 20, avail // 4))


def _median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(size: int, dtype: str, threads: int | None, repeat: int, seed: int = 0) -> dict:
    """Time He normal and He uniform fills of one buffer; every figure from this run."""
    itemsize = np.dtype(dtype).itemsize
    side = max(1, math.isqrt(size // itemsize))
    shape = (side, side)  # square: fan_in = side
    buf = np.empty(shape, dtype)
    buf.fill(0)  # prefault: page faults are not part of any timing
    nbytes = buf.nbytes
    std = math.sqrt(2.0) / math.sqrt(side)
    bound = math.sqrt(3.0) * std
    rng = np.random.default_rng(seed)
    nthreads = _checks.threads(threads)

    def numpy_normal() -> None:
        if dtype == "float16":  # NumPy has no float16 generator: float32, then cast
            buf[...] = rng.standard_normal(shape, dtype=np.float32)
        else:
            rng.standard_normal(out=buf, dtype=buf.dtype)
        np.multiply(buf, std, out=buf)

    def numpy_uniform() -> None:
        if dtype == "float16":
            buf[...] = rng.random(shape, dtype=np.float32)
        else:
            rng.random(out=buf, dtype=buf.dtype)
        np.multiply(buf, 2 * bound, out=buf)
        np.subtract(buf, bound, out=buf)

    memset = _median_time(lambda: buf.fill(0), repeat)
    rows = []
    for name, ours, theirs in (
        ("He normal", lambda: kaiming_normal_(buf, seed=seed, threads=nthreads), numpy_normal),
        ("He uniform", lambda: kaiming_uniform_(buf, seed=seed, threads=nthreads), numpy_uniform),
    ):
        t = _median_time(ours, repeat)
        t_np = _median_time(theirs, repeat)
        rows.append({
            "fill": name,
            "seconds": t,
            "GB_per_s": nbytes / t / 1e9,
            "Gsamples_per_s": buf.size / t / 1e9,
            "numpy_seconds": t_np,
            "speedup_vs_numpy": t_np / t,
            "fraction_of_memset": memset / t,
        })  # fmt: skip
    return {
        "fastkaiming": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "dtype": dtype,
        "shape": list(shape),
        "bytes": nbytes,
        "threads": nthreads,
        "repeat": repeat,
        "memset_seconds": memset,
        "memset_GB_per_s": nbytes / memset / 1e9,
        "rows": rows,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def format_table(result: dict) -> str:
    gib = result["bytes"] / 2**30
    head = (
        f"fastkaiming {result['fastkaiming']} | {gib:.2f} GiB {result['dtype']} "
        f"{tuple(result['shape'])} | threads={result['threads']} | median of {result['repeat']} | "
        f"{result['processor']}\n"
        f"memset (ndarray.fill): {result['memset_seconds'] * 1e3:.1f} ms, "
        f"{result['memset_GB_per_s']:.2f} GB/s\n"
    )
    cols = (
        f"{'fill':<11} {'time ms':>9} {'GB/s':>7} {'G samples/s':>12} "
        f"{'NumPy ms':>9} {'x NumPy':>8} {'x memset':>9}"
    )
    lines = [head, cols, "-" * len(cols)]
    for r in result["rows"]:
        lines.append(
            f"{r['fill']:<11} {r['seconds'] * 1e3:>9.1f} {r['GB_per_s']:>7.2f} "
            f"{r['Gsamples_per_s']:>12.3f} {r['numpy_seconds'] * 1e3:>9.1f} "
            f"{r['speedup_vs_numpy']:>8.2f} {r['fraction_of_memset']:>9.2f}"
        )
    return "\n".join(lines)


def write_json(result: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
