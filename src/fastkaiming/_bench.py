"""`python -m fastkaiming bench`: fill one large buffer per initializer, next to NumPy, torch, memset."""
from __future__ import annotations

import json
import math
import platform
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from . import _checks
from ._api import runtime_info
from ._files import INITS
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


def _rounds(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds per call in each of `repeat` timed rounds, after a warm-up call; short calls are
    looped to >= 2 ms a round."""
    t0 = time.perf_counter()
    fn()  # warm-up, and an estimate
    once = time.perf_counter() - t0
    loops = min(10_000, max(1, math.ceil(2e-3 / max(once, 1e-9))))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - t0) / loops)
    return times


def _timing(name: str, times: list[float] | None) -> dict[str, object]:
    """`name` (the median), `name`_min, `name`_max and `name`_rounds (each round's seconds);
    all None when nothing was timed."""
    if times is None:
        return {name: None, f"{name}_min": None, f"{name}_max": None, f"{name}_rounds": None}
    return {name: statistics.median(times), f"{name}_min": min(times), f"{name}_max": max(times),
            f"{name}_rounds": times}  # fmt: skip


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


class Case(NamedTuple):
    """One initializer as each side runs it, on a square buffer of side n (fan_in = fan_out = n)."""

    numpy: Callable[[int], tuple[str, float, float]] | None  # n -> ("normal", mean, std) or ("uniform", a, b)
    torch: str | None  # the torch.nn.init function with the same distribution
    torch_kwargs: Mapping[str, object]


_RELU = {"nonlinearity": "relu"}
# What people run, each with its NumPy equivalent where NumPy has one and torch's where torch has one.
CASES = {
    "kaiming_normal": Case(lambda n: ("normal", 0.0, math.sqrt(2.0 / n)), "kaiming_normal_", _RELU),
    "kaiming_uniform": Case(lambda n: ("uniform", -math.sqrt(6.0 / n), math.sqrt(6.0 / n)),
                            "kaiming_uniform_", _RELU),  # fmt: skip
    "trunc_normal": Case(None, "trunc_normal_", {}),
    "he_normal": Case(None, None, {}),  # Keras: a truncated normal; torch has no such fill
    "glorot_uniform": Case(lambda n: ("uniform", -math.sqrt(3.0 / n), math.sqrt(3.0 / n)),
                           "xavier_uniform_", {}),  # fmt: skip
    "xavier_normal": Case(lambda n: ("normal", 0.0, math.sqrt(1.0 / n)), "xavier_normal_", {}),
    "normal": Case(lambda n: ("normal", 0.0, 1.0), "normal_", {}),
    "uniform": Case(lambda n: ("uniform", 0.0, 1.0), "uniform_", {}),
}
DEFAULT_INITS = ("kaiming_normal", "kaiming_uniform")
DTYPES = ("float32", "float64", "float16", "bfloat16")


def _numpy_fill(buf: np.ndarray, dtype: str, rng: np.random.Generator,
                how: tuple[str, float, float]) -> Callable[[], None] | None:  # fmt: skip
    """NumPy's way to the same distribution: standard_normal(out=) or random(out=), then in-place
    scaling; float16 and bfloat16 (ml_dtypes) through NumPy's float32 generator and a cast.
    None for bfloat16 without ml_dtypes."""
    kind, p, q = how
    out = buf
    if dtype == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            return None
        out = buf.view(ml_dtypes.bfloat16)
    scale, shift = (q, p) if kind == "normal" else (q - p, p)

    def fill() -> None:
        if dtype in ("float16", "bfloat16"):  # NumPy has no 16-bit generator
            draw = rng.standard_normal if kind == "normal" else rng.random
            values = draw(out.shape, dtype=np.float32)
        else:
            values = out
            if kind == "normal":
                rng.standard_normal(out=out, dtype=out.dtype)
            else:
                rng.random(out=out, dtype=out.dtype)
        if scale != 1.0:
            np.multiply(values, scale, out=values)
        if shift != 0.0:
            np.add(values, shift, out=values)
        if values is not out:
            out[...] = values

    return fill


def run(size: int, dtype: str, threads: int | None, repeat: int, seed: int = 0,
        inits: Sequence[str] = DEFAULT_INITS) -> dict:  # fmt: skip
    """Time each initializer of `inits` on one buffer; every figure from this run.

    Against NumPy where it has the distribution (Generator.standard_normal(out=) / random(out=)
    + in-place scaling), memset (ndarray.fill) and, when it is installed, torch.nn.init's fill
    of the same distribution on a tensor sharing the buffer, with torch held to the same thread
    count.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    unknown = [name for name in inits if name not in CASES]
    if unknown or not inits:
        raise ValueError(f"inits must name some of {', '.join(CASES)}, got {list(inits)!r}")
    itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
    side = max(1, math.isqrt(size // itemsize))
    shape = (side, side)  # square: fan_in = fan_out = side
    buf = np.empty(shape, np.uint16 if dtype == "bfloat16" else dtype)  # bfloat16: its bits
    buf.fill(0)  # prefault: page faults are not part of any timing
    nbytes = buf.nbytes
    rng = np.random.default_rng(seed)
    nthreads = _checks.threads(threads)
    torch = _torch()
    tensor = None
    if torch is not None:
        tensor = torch.from_numpy(buf)
        if dtype == "bfloat16":
            tensor = tensor.view(torch.bfloat16)

    memset_times = _rounds(lambda: buf.fill(0), repeat)
    memset_t = statistics.median(memset_times)
    rows = []
    for name in inits:
        case = CASES[name]
        ours = INITS[name]
        times = _rounds(lambda: ours(buf, seed=seed, threads=nthreads, dtype=dtype), repeat)  # noqa: B023
        t = statistics.median(times)
        row: dict[str, object] = {
            "init": name,
            "fill": name,
            **_timing("seconds", times),
            "GB_per_s": nbytes / t / 1e9,
            "Gsamples_per_s": buf.size / t / 1e9,
            "fraction_of_memset": memset_t / t,
        }
        theirs = None if case.numpy is None else _numpy_fill(buf, dtype, rng, case.numpy(side))
        numpy_times = None if theirs is None else _rounds(theirs, repeat)
        row.update(_timing("numpy_seconds", numpy_times))
        row["speedup_vs_numpy"] = None if numpy_times is None else statistics.median(numpy_times) / t
        if torch is not None:
            row["torch_fill"] = case.torch
            row.update(_timing("torch_seconds", None))
            row["speedup_vs_torch"] = None
        if torch is not None and case.torch is not None:
            init = getattr(torch.nn.init, case.torch)
            kwargs = case.torch_kwargs
            saved = torch.get_num_threads()
            torch.set_num_threads(nthreads)  # the same thread count on both sides
            try:
                torch_times = _rounds(lambda: init(tensor, **kwargs), repeat)  # noqa: B023
            finally:
                torch.set_num_threads(saved)
            row.update(_timing("torch_seconds", torch_times))
            row["speedup_vs_torch"] = statistics.median(torch_times) / t
        rows.append(row)
    return {
        "fastkaiming": __version__,
        "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "isa": runtime_info()["isa"],
        "dtype": dtype,
        "inits": list(inits),
        "shape": list(shape),
        "bytes": nbytes,
        "threads": nthreads,
        "numpy_threads": NUMPY_THREADS,
        "note": threads_note(nthreads, torch is not None),
        "repeat": repeat,
        "statistic": "median of the rounds; _min, _max and _rounds: their spread; ratios of the medians",
        **_timing("memset_seconds", memset_times),
        "memset_GB_per_s": nbytes / memset_t / 1e9,
        "rows": rows,
    }


NUMPY_THREADS = 1  # numpy.random.Generator fills on the calling thread


def threads_note(threads: int, torch: bool) -> str | None:
    """The note printed when fastkaiming's thread count is not NumPy's; None when both use one."""
    if threads == NUMPY_THREADS:
        return None
    who = "fastkaiming and torch run" if torch else "fastkaiming runs"
    return (f"note: {who} on {threads} threads, NumPy's Generator on one: x NumPy compares "
            f"{threads} threads with one (--threads 1 compares one with one)")


def sweep(max_size: int, dtype: str, threads: int | None, repeat: int,
          inits: Sequence[str] = DEFAULT_INITS) -> dict:  # fmt: skip
    """Throughput (GB/s) against buffer size, 4 KiB up to max_size, for the plot."""
    sizes = []
    size = 4 << 10
    while size <= max_size:
        sizes.append(size)
        size *= 4
    series: dict[str, list[float]] = {}
    for size in sizes:
        result = run(size, dtype, threads, repeat, inits=inits)
        for r in result["rows"]:
            series.setdefault(f"fastkaiming {r['fill']}", []).append(r["GB_per_s"])
            if r["numpy_seconds"] is not None:
                series.setdefault(f"NumPy {r['fill']}", []).append(result["bytes"] / r["numpy_seconds"] / 1e9)
        series.setdefault("memset", []).append(result["memset_GB_per_s"])
    return {"sizes": sizes, "series": series, "dtype": dtype, "threads": _checks.threads(threads)}


def plot(sweep_result: dict, path: str) -> None:
    """A PNG of throughput against buffer size (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, values in sweep_result["series"].items():
        style = "--" if label.startswith("NumPy") else ":" if label == "memset" else "-"
        ax.plot(sweep_result["sizes"], values, style, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("buffer size (bytes)")
    ax.set_ylabel("GB/s written")
    ax.set_title(
        f"fastkaiming {__version__}: {sweep_result['dtype']}, threads={sweep_result['threads']}"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt_spread(result: dict, name: str) -> str:
    """'12.3 ms [12.1-13.0]': the median of `name` to 3 significant digits, then the fastest
    and slowest round in the same unit and decimals; "-" when not timed."""
    median = result[name]
    if median is None:
        return "-"
    unit, scale = ("s", 1.0) if median >= 1 else ("ms", 1e3) if median >= 1e-3 else ("us", 1e6)
    digits = max(0, 2 - math.floor(math.log10(max(median * scale, 1e-9))))
    low, high = result[f"{name}_min"] * scale, result[f"{name}_max"] * scale
    return f"{median * scale:.{digits}f} {unit} [{low:.{digits}f}-{high:.{digits}f}]"


def _fmt_bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} bytes"


def format_table(result: dict) -> str:
    """The result as a text table: each time as the median [fastest-slowest] of the rounds,
    rates and ratios from the medians; "-" where NumPy or torch has no such fill; a note when
    fastkaiming's thread count is not NumPy's."""
    torch = result["torch"] is not None
    head = [
        f"fastkaiming {result['fastkaiming']} ({result['isa']}) | "
        f"{_fmt_bytes(result['bytes'])} {result['dtype']} "
        f"{tuple(result['shape'])} | threads={result['threads']} | "
        f"median [min-max] of {result['repeat']} rounds | {result['processor']}",
        f"memset (ndarray.fill): {_fmt_spread(result, 'memset_seconds')}, "
        f"{result['memset_GB_per_s']:.2f} GB/s",
    ]
    if torch:
        head[1] += f" | torch {result['torch']}, same threads"
    if result.get("note"):
        head.append(result["note"])
    width = max(23, *(len(_fmt_spread(r, k)) for r in result["rows"]
                      for k in ("seconds", "numpy_seconds", "torch_seconds") if k in r))  # fmt: skip
    cols = (
        f"{'fill':<15} {'time [min-max]':>{width}} {'GB/s':>7} {'G samples/s':>12} "
        f"{'NumPy [min-max]':>{width}} {'x NumPy':>8} {'x memset':>9}"
    )
    if torch:
        cols += f" {'torch [min-max]':>{width}} {'x torch':>8}"
    lines = [*head, "", cols, "-" * len(cols)]

    def cell(r: dict, name: str, ratio: float | None) -> str:
        shown = "-" if ratio is None else f"{ratio:.2f}"
        return f" {_fmt_spread(r, name):>{width}} {shown:>8}"

    for r in result["rows"]:
        line = (
            f"{r['fill']:<15} {_fmt_spread(r, 'seconds'):>{width}} {r['GB_per_s']:>7.2f} "
            f"{r['Gsamples_per_s']:>12.3f}{cell(r, 'numpy_seconds', r['speedup_vs_numpy'])} "
            f"{r['fraction_of_memset']:>9.2f}"
        )
        if torch:
            line += cell(r, "torch_seconds", r["speedup_vs_torch"])
        lines.append(line)
    return "\n".join(lines)


def write_json(result: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
