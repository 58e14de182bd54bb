"""The public fills: PyTorch's names, in place, returning the object they were given."""
from __future__ import annotations

import math
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from . import _adapters, _blocks, _buffers, _checks, _core, _docs, _fans
from ._dtypes import CODES, FLOAT_DTYPES, ITEMSIZE
from ._version import __version__

T = TypeVar("T")

ISA_ENV = "FASTKAIMING_ISA"


def _choose_isa() -> int:
    """The kernel for every fill: FASTKAIMING_ISA if set, else the widest this CPU runs."""
    available = _core.isa_names()
    forced = os.environ.get(ISA_ENV, "").strip().lower()
    if not forced:
        return max(available.values())
    if forced not in _core.ISA_ALL:
        raise ImportError(
            f"{ISA_ENV}={forced!r} is not a kernel name; use one of {', '.join(_core.ISA_ALL)}"
        )
    if forced not in available:
        raise ImportError(
            f"{ISA_ENV}={forced!r}, but this CPU (or build) cannot run it; "
            f"available: {', '.join(available)}"
        )
    return available[forced]


# Kernel used by every fill; tests set it to run each path (see tests/conftest.py).
_ISA = _choose_isa()


def runtime_info() -> dict[str, object]:
    """What fills run on here: the kernel, the kernels available, default threads, version.

    Returns
    -------
    dict
        ``"version"`` (str), ``"isa"`` (the kernel every fill uses: ``"scalar"``, ``"avx2"``,
        ``"avx512"`` or ``"neon"``), ``"isa_available"`` (the kernels this CPU and build run),
        ``"isa_forced"`` (the ``FASTKAIMING_ISA`` environment variable, or None) and
        ``"threads"`` (what ``threads=None`` means here: the usable cores). Every kernel gives
        the same bits; only the speed differs.

    Examples
    --------
    >>> info = fk.runtime_info()
    >>> info["isa"] in info["isa_available"]
    True
    >>> info["version"] == fk.__version__
    True
    """
    names = {code: name for name, code in _core.isa_names().items()}
    return {
        "version": __version__,
        "isa": names[_ISA],
        "isa_available": list(names.values()),
        "isa_forced": os.environ.get(ISA_ENV) or None,
        "threads": _checks.usable_cores(),
    }

_SQRT3 = math.sqrt(3.0)
_UNIFORM = _core.DIST_UNIFORM
_NORMAL = _core.DIST_NORMAL
_RAW = _core.DIST_RAW
_TRUNC = _core.DIST_TRUNC_NORMAL

# (loc, scale, lo, hi, tail_a, tail_b, form) of the C core's fk_params
Params = tuple[float, float, float, float, float, float, int]
# A fill's parameters from (the whole tensor's shape, dtype name); checks what depends on them
Law = Callable[[tuple[int, ...], str], Params]


# A checked fill for _core.fill_batch: (address, shape, steps, itemsize, dtype code, dist,
# *Params, seed, stream, block, phase, index_strides, threads)
Request = tuple[object, ...]


def _fill(
    tensor: T,
    dist: int,
    params: Law,
    *,
    seed: object,
    stream: object,
    offset: object,
    threads: object,
    dtype: object,
    supported: tuple[str, ...] = FLOAT_DTYPES,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
) -> T:
    """Validate everything, then make the one call that writes.

    `params(shape, dtype)` checks and returns the distribution parameters (shape: the whole
    tensor's, for a block); it is not called for a zero-element tensor. `stream` may be a
    callable, called only once all checks passed.
    """
    kind = type(tensor)
    # a plain torch tensor: one dict lookup (_adapters.find, inlined)
    if kind is np.ndarray or (adapter := _adapters.BY_TYPE.get(kind) or _adapters.find(tensor)) is None:
        target = _buffers.buffer_target(tensor, dtype, supported)  # looked up above: no adapter
    elif adapter.routed(tensor):  # DTensor, CUDA: by blocks
        return adapter.fill(tensor, _fill, dist, params, seed=seed, stream=stream, offset=offset,
                            threads=threads, dtype=dtype, supported=supported,
                            global_shape=global_shape, block_start=block_start)  # fmt: skip
    else:  # a torch tensor in host memory
        target = _buffers.adapted(tensor, adapter, dtype, supported)
    array = target.array
    where = _blocks.layout(array.shape, global_shape, block_start)
    per_block = _core.samples_per_block(dist, target.code)
    key = _checks.seed(seed)
    if not callable(stream):
        stream = _checks.stream(stream)
    first = _checks.offset(offset, where.total, per_block, target.dtype) + where.base
    nthreads = _checks.threads(threads, array.size)
    if array.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return tensor
    loc, scale, lo, hi, tail_a, tail_b, form = _checked_params(dist, params, where.shape, target.dtype)
    stream_id = stream() if callable(stream) else stream
    block, phase = divmod(first, per_block)
    try:
        _core.fill(array, target.code, dist, loc, scale, lo, hi, tail_a, tail_b, form,
                   key, stream_id, block, phase, where.index_strides, nthreads, _ISA,
                   threading.current_thread() is threading.main_thread())  # fmt: skip
    finally:
        if target.written is not None:  # also after a fill stopped part way (Ctrl-C)
            target.written()
    return tensor


def _checked_params(dist: int, params: Law, shape: tuple[int, ...], dtype: str) -> Params:
    """params(shape, dtype), whose mean and std (normal) or a and b (uniform) the dtype holds."""
    values = params(shape, dtype)
    limit = _checks.FLOAT_MAX.get(dtype)
    if limit is not None and dist != _TRUNC:  # trunc normal bounds are rounded inwards instead
        loc, scale, lo, hi = values[:4]
        named = (("mean", loc), ("std", scale)) if dist == _NORMAL else (("a", lo), ("b", hi))
        for name, value in named:
            if abs(value) > limit:
                raise ValueError(f"{name}={value!r} is out of range for {dtype}")
    return values


def prepare_whole(dtype: str, address: int, shape: tuple[int, ...], steps: tuple[int, ...], dist: int,
                  params: Law, seed: int, stream: int, threads: int | None,
                  known: dict[object, Any] | None = None) -> Request:  # fmt: skip
    """The checked fill of a whole tensor with elements (dtype name, memory as
    an adapter's memory() gives it) from sample 0 of a valid (seed, stream), as _fill makes it:
    for init_module_'s batch of fills. `known` keeps what depends only on (dist, params, shape,
    dtype, threads) from one call to the next (many tensors of one shape and law)."""
    key = (dist, params, shape, dtype, threads)
    found = None if known is None else known.get(key)
    if found is None:
        values = _checked_params(dist, params, shape, dtype)
        head = (ITEMSIZE[dtype], CODES[dtype], dist, *values)
        found = (head, _checks.threads(threads, math.prod(shape)))
        if known is not None:
            known[key] = found
    head, nthreads = found
    return (address, shape, steps, *head, seed, stream, 0, 0, None, nthreads)


def fill_batch(requests: list[Request]) -> None:
    """Run checked Requests in order in one binding call (Ctrl-C stops it, as a fill)."""
    _core.fill_batch(requests, _ISA, threading.current_thread() is threading.main_thread())  # type: ignore[arg-type]


def _normal_params(mean: float, std: float) -> Params:
    return (mean, std, -math.inf, math.inf, 0.0, 0.0, False)


def _uniform_params(a: float, b: float) -> Params:
    return (a / 2 + b / 2, b / 2 - a / 2, a, b, 0.0, 0.0, False)


@_docs.documented
def normal_(
    tensor: T,
    mean: float = 0.0,
    std: float = 1.0,
    *,
    seed: int | None = None,
    stream: int = 0,
    offset: int = 0,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
    threads: int | None = None,
    dtype: object = None,
) -> T:
    """Fill `tensor` in place with N(mean, std^2) samples; return `tensor`.

    Box-Muller on Philox4x32-10 words. Sample i is a pure function of (seed, stream,
    offset + i, mean, std, dtype): the same for any `threads`, any strides and any split of
    the buffer into pieces at matching offsets. float32, float16 and bfloat16 compute in
    float32 (|z| <= 6.66), float64 in float64 (|z| <= 8.57).

    Parameters
    ----------
    {tensor}
    mean : float, default 0.0
        The mean, a finite real number the dtype can hold.
    std : float, default 1.0
        The standard deviation, finite and >= 0, that the dtype can hold.
    {seed_stream_offset}
    {block_threads_dtype}

    {returns_raises}
    ValueError
        `mean` or `std` is not finite or beyond the dtype's range, or `std` < 0.

    Warns
    -----
    {warns}

    See Also
    --------
    normal : The same values in a new array.
    trunc_normal_ : The normal distribution restricted to an interval.

    Examples
    --------
    >>> w = np.empty((256, 256), np.float32)
    >>> fk.normal_(w, std=0.02, seed=0) is w
    True
    >>> halves = np.empty(256 * 256, np.float32)
    >>> _ = fk.normal_(halves[:1000], std=0.02, seed=0)
    >>> _ = fk.normal_(halves[1000:], std=0.02, seed=0, offset=1000)
    >>> bool((halves == w.ravel()).all())
    True
    """
    return _fill(tensor, _NORMAL, normal_law(mean, std), seed=seed, stream=stream, offset=offset,
                 threads=threads, dtype=dtype,
                 global_shape=global_shape, block_start=block_start)  # fmt: skip


def normal_law(mean: float, std: float) -> Law:
    """normal_'s parameters, `mean` and `std` checked now."""
    m = _checks.real("mean", mean)
    s = _checks.real("std", std, nonnegative=True)
    params = _normal_params(m, s)
    return lambda shape, name: params


@_docs.documented
def uniform_(
    tensor: T,
    a: float = 0.0,
    b: float = 1.0,
    *,
    seed: int | None = None,
    stream: int = 0,
    offset: int = 0,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
    threads: int | None = None,
    dtype: object = None,
) -> T:
    """Fill `tensor` in place with U(a, b) samples; return `tensor`.

    Samples are a + (b - a) * (v + 1) / 2 for v uniform on the 2^24 (float32, float16,
    bfloat16) or 2^53 (float64) odd multiples of the grid step in (-1, 1), rounded once and
    clamped to [a, b]: they never leave [a, b] as rounded to the dtype, and b is included.

    Parameters
    ----------
    {tensor}
    a : float, default 0.0
        The lower bound, finite, that the dtype can hold.
    b : float, default 1.0
        The upper bound, finite, >= `a`, that the dtype can hold.
    {seed_stream_offset}
    {block_threads_dtype}

    {returns_raises}
    ValueError
        `a` or `b` is not finite or beyond the dtype's range, or `a` > `b`.

    Warns
    -----
    {warns}

    See Also
    --------
    uniform : The same values in a new array.

    Examples
    --------
    >>> x = fk.uniform_(np.empty(1000), a=-1.0, b=1.0, seed=3)
    >>> bool(x.min() >= -1.0 and x.max() <= 1.0)
    True
    """
    return _fill(tensor, _UNIFORM, uniform_law(a, b), seed=seed, stream=stream, offset=offset,
                 threads=threads, dtype=dtype,
                 global_shape=global_shape, block_start=block_start)  # fmt: skip


def uniform_law(a: float, b: float) -> Law:
    """uniform_'s parameters, `a` and `b` checked now."""
    lo = _checks.real("a", a)
    hi = _checks.real("b", b)
    if lo > hi:
        raise ValueError(f"uniform_ expects a <= b, got a={lo!r}, b={hi!r}")
    params = _uniform_params(lo, hi)
    return lambda shape, name: params


def _phi(x: float) -> float:
    """Standard normal CDF, accurate in the lower tail (x <= 0): 1 - _phi(x) is _phi(-x)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _inner_bound(x: float, dtype: str, upper: bool) -> float:
    """The dtype's value nearest x on the inside of the interval: <= x if upper, else >= x;
    -inf or inf when there is none (x beyond the dtype's range on the outside)."""
    if dtype == "float64":
        return x
    limit = _checks.FLOAT_MAX[dtype]
    if abs(x) > limit:
        if (x > 0) == upper:
            return math.copysign(limit, x)
        return math.copysign(math.inf, x)
    if dtype == "bfloat16":  # bfloat16 values are the float32 values with 16 zero low bits
        bits = int(np.float32(x).view(np.uint32)) & 0xFFFF0000
        candidates = [bits, (bits + 0x10000) & 0xFFFFFFFF, (bits - 0x10000) & 0xFFFFFFFF]
        values = [float(np.uint32(c).view(np.float32)) for c in candidates]
    else:
        with np.errstate(over="ignore"):
            t = np.dtype(dtype).type(x)
            values = [float(t), float(np.nextafter(t, t.dtype.type(np.inf))),
                      float(np.nextafter(t, t.dtype.type(-np.inf)))]  # fmt: skip
    inside = [v for v in values if abs(v) <= limit and (v <= x if upper else v >= x)]
    return max(inside) if upper else min(inside)


def _dtype_step(x: float, dtype: str) -> float:
    """The spacing of the dtype's values at x (for messages)."""
    if dtype == "bfloat16":
        return float(np.spacing(np.float32(x))) * 65536.0
    return float(np.spacing(np.dtype(dtype).type(x)))


# Smallest tail probability t the sampler resolves: float32 arithmetic keeps t a normal float32,
# float64 arithmetic a normal float64. |Phi^-1(t)| there: 12.95, 37.52.
_TAIL_MIN_F32 = 2.0**-126
_TAIL_MIN_F64 = 2.0**-1022
# float32 arithmetic only where each half of [a, b] holds at least 2^20 steps of t as float32
# resolves it; else float64 arithmetic (fk_params form bit 2). float64: at least 2^6 steps.
_STEPS_F32 = 2.0**20
_STEPS_F64 = 2.0**6
_FORM_F64 = 4


def _t_steps_f32(span: float, t_max: float) -> float:
    """Steps of t in a half of probability `span` whose largest t is `t_max`, in float32
    arithmetic: t is rounded to float32 (relative step <= 2^-23), and the sampler goes through
    lw = log(4t(1 - t)) rounded to float32, whose absolute step ulp(lw) is a relative step of
    t (lw is 2^-17 coarse beyond 64: t resolved to about 2^-17 relative, 12 std out)."""
    lw = abs(math.log(4.0 * t_max * (1.0 - t_max)))
    step = max(2.0**-23, float(np.spacing(np.float32(lw))))
    return span / (t_max * step)


def _trunc_normal_params(mean: float, std: float, a: float, b: float, dtype: str) -> Params:
    """The two halves of the inverse CDF (fastkaiming.h): tail probabilities at a and b, in
    std units and mirrored when [a, b] lies above the mean, and the form bits (bit 2: float64
    arithmetic for a float32, float16 or bfloat16 fill)."""
    lo, hi = _inner_bound(a, dtype, upper=False), _inner_bound(b, dtype, upper=True)
    if lo > hi:
        limit = _checks.FLOAT_MAX.get(dtype, math.inf)
        if a > limit or b < -limit:
            why = f"{dtype} values lie in [{-limit!r}, {limit!r}]"
        else:
            why = f"the interval is narrower than one {dtype} step, {_dtype_step(a, dtype):.3g}"
        raise ValueError(f"no {dtype} value lies in [a, b] = [{a!r}, {b!r}] ({why})")
    limit = _checks.FLOAT_MAX.get(dtype, math.inf)
    if dtype != "float64":  # computed in float32: its parameters must be float32 numbers
        for name, value in (("mean", mean), ("std", std)):
            if abs(value) > _checks.FLOAT_MAX["float32"]:
                raise ValueError(f"{name}={value!r} is out of range for the {dtype} truncated normal "
                                 "(computed in float32); use float64")  # fmt: skip
    # the dtype holds no value beyond its range: sample N(mean, std^2) on the part of [a, b] in it
    alpha, beta = (max(a, -limit) - mean) / std, (min(b, limit) - mean) / std
    mirror = alpha > 0
    if mirror:
        alpha, beta = -beta, -alpha
    straddle = beta > 0
    tail_a = _phi(alpha)
    tail_b = _phi(-beta) if straddle else _phi(beta)
    # the halves as the C core computes them (transforms.h, fk_trunc_setup)
    span = ((1.0 - tail_a) - tail_b) * 0.5 if straddle else (tail_b - tail_a) * 0.5
    bases = (tail_a, tail_b if straddle else tail_a + span)
    t_min, t_max = min(bases) + span * 2.0**-32, max(bases) + span
    wide = float32 = dtype != "float64"
    if float32:
        float32 = t_min >= _TAIL_MIN_F32 * (1.0 + 2.0**-20) and _t_steps_f32(span, t_max) >= _STEPS_F32
    if not t_min >= _TAIL_MIN_F64 * (1.0 + 2.0**-20):
        raise ValueError(
            f"[a, b] = [{a!r}, {b!r}] lies too far in the tail of N({mean!r}, {std!r}^2) to "
            f"sample in {dtype}: the sampler resolves tail probabilities down to 2^-1022 "
            "(|a - mean|, |b - mean| up to about 37.5 std)"
        )
    # (one value of the dtype in [a, b]: every sample is that value, whatever t)
    if lo < hi and not float32 and not span >= t_max * 2.0**-52 * _STEPS_F64:
        raise ValueError(
            f"[a, b] = [{a!r}, {b!r}] is too narrow to sample from N({mean!r}, {std!r}^2) in "
            f"{dtype}: it holds probability {2 * span:.3g}, below what the float64 sampler "
            "resolves there; widen the interval"
        )
    form = int(mirror) | int(straddle) << 1 | (_FORM_F64 if wide and not float32 else 0)
    return (mean, std, lo, hi, tail_a, tail_b, form)


@_docs.documented
def trunc_normal_(
    tensor: T,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    *,
    seed: int | None = None,
    stream: int = 0,
    offset: int = 0,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
    threads: int | None = None,
    dtype: object = None,
) -> T:
    """Fill `tensor` in place with N(mean, std^2) restricted to [a, b]; return `tensor`.

    The bounds are absolute, as torch's. Inverse CDF on the restricted range: one Philox word
    per sample, no rejection; samples never leave [a, b], in every dtype (the bounds are
    rounded inwards to it) and for any small std. float32, float16 and bfloat16 compute in
    float32 where that resolves the tail probability t of each half of [a, b] in at least 2^20
    steps, else (narrow intervals, intervals far in one tail, t < 2^-126) in float64, rounded
    to float32 once; float64 in float64. Untruncated, |z| reaches 6.34 std in both tails (mass
    2.3e-10 beyond). Tail intervals are sampled correctly up to about 37.5 std from the mean
    (tail probability >= 2^-1022).

    Parameters
    ----------
    {tensor}
    mean : float, default 0.0
        The mean of the untruncated normal, finite.
    std : float, default 1.0
        Its standard deviation, finite and > 0.
    a : float, default -2.0
        The lower bound (absolute, not in std units), finite.
    b : float, default 2.0
        The upper bound, finite and > `a`.
    {seed_stream_offset}
    {block_threads_dtype}

    {returns_raises}
    ValueError
        A parameter is not finite, `std` <= 0, `a` >= `b`; no value of the dtype lies in
        [a, b]; [a, b] lies too far in a tail (beyond about 37.5 std), or is too narrow for the float64
        sampler;
        `mean` or `std` is beyond float32's range for a 16- or 32-bit dtype.

    Warns
    -----
    {warns}

    See Also
    --------
    trunc_normal : The same values in a new array.

    Examples
    --------
    >>> w = fk.trunc_normal_(np.empty((768, 768), np.float16), std=0.02, a=-0.04, b=0.04, seed=0)
    >>> bool(w.min() >= -0.04 and w.max() <= 0.04)
    True
    """
    m = _checks.real("mean", mean)
    s = _checks.real("std", std)
    if s <= 0:
        raise ValueError(f"std must be > 0, got {s!r}")
    lo = _checks.real("a", a)
    hi = _checks.real("b", b)
    if not lo < hi:
        raise ValueError(f"trunc_normal_ expects a < b, got a={lo!r}, b={hi!r}")
    return _fill(tensor, _TRUNC, lambda shape, name: _trunc_normal_params(m, s, lo, hi, name),
                 seed=seed, stream=stream, offset=offset, threads=threads, dtype=dtype,
                 global_shape=global_shape, block_start=block_start)  # fmt: skip


# _kaiming_std's functions by argument values, only for arguments of the types that pass its
# checks (else 1.0 == 1 and True == 1 would find the function of a valid int): a few argument
# sets recur in every model
_STDS: dict[tuple[object, ...], Callable[[tuple[int, ...]], float]] = {}


def _kaiming_std(a, mode, nonlinearity, fan_in, fan_out, in_axis, out_axis):  # type: ignore[no-untyped-def]
    """Check the Kaiming arguments now; return shape -> std, evaluated after the buffer checks."""
    args = (a, mode, nonlinearity, fan_in, fan_out, in_axis, out_axis)
    plain = ((type(a) is float or type(a) is int) and type(mode) is str and type(nonlinearity) is str
             and (fan_in is None or type(fan_in) is int) and (fan_out is None or type(fan_out) is int)
             and type(in_axis) is int and type(out_axis) is int)  # fmt: skip
    if plain:
        found = _STDS.get(args)
        if found is not None:
            return found
    std = _new_kaiming_std(*args)
    if plain:
        if len(_STDS) >= 256:
            _STDS.clear()
        _STDS[args] = std
    return std


def _new_kaiming_std(a, mode, nonlinearity, fan_in, fan_out, in_axis, out_axis):  # type: ignore[no-untyped-def]
    slope = _checks.real("a", a, nonnegative=True)
    _checks.choice("mode", mode, _fans.MODES)
    _checks.choice("nonlinearity", nonlinearity, _fans.NONLINEARITIES)
    gain = _fans.calculate_gain(nonlinearity, slope)
    fan_in_, fan_out_ = _fans.check_fan_args(fan_in, fan_out)
    _checks.integer("in_axis", in_axis)
    _checks.integer("out_axis", out_axis)

    def std(shape: tuple[int, ...]) -> float:
        fan = _fans.fan(shape, mode, fan_in_, fan_out_, in_axis, out_axis)
        return _fans.kaiming_std(gain, fan)

    return std


@_docs.documented
def kaiming_normal_(
    tensor: T,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    seed: int | None = None,
    stream: int = 0,
    offset: int = 0,
    fan_in: int | None = None,
    fan_out: int | None = None,
    in_axis: int = 1,
    out_axis: int = 0,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
    threads: int | None = None,
    dtype: object = None,
) -> T:
    """Fill `tensor` in place with He-normal samples N(0, std^2); return `tensor`.

    std = gain / sqrt(fan) (He et al. 2015, eq. 10), gain = ``calculate_gain(nonlinearity,
    a)`` (sqrt(2 / (1 + a^2)) for leaky_relu, sqrt(2) for relu), fan = fan_in, fan_out or
    their mean (`mode`). Fans come from the shape (PyTorch's (out, in, *kernel) layout by
    default) unless given as `fan_in` / `fan_out`.

    Parameters
    ----------
    {tensor}
    {kaiming}
    {seed_stream_offset}
    {fans}
    {axes_torch}
    {block_threads_dtype}

    {returns_raises}
    {kaiming_raises}

    Warns
    -----
    {warns}

    See Also
    --------
    kaiming_uniform_ : The uniform distribution of the same variance.
    kaiming_normal : The same values in a new array.

    Examples
    --------
    >>> w = np.empty((4096, 1024), np.float32)           # (out_features, in_features)
    >>> _ = fk.kaiming_normal_(w, nonlinearity="relu", seed=0)
    >>> round(float(w.std()) * 1024 ** 0.5, 2)            # std = sqrt(2 / fan_in)
    1.41
    >>> k = fk.kaiming_normal_(np.empty((3, 3, 64, 128), np.float32), in_axis=-2, out_axis=-1, seed=0)
    """
    std = _kaiming_std(a, mode, nonlinearity, fan_in, fan_out, in_axis, out_axis)
    return _fill(tensor, _NORMAL, lambda shape, name: _normal_params(0.0, std(shape)), seed=seed,
                 stream=stream, offset=offset, threads=threads, dtype=dtype,
                 global_shape=global_shape, block_start=block_start)  # fmt: skip


@_docs.documented
def kaiming_uniform_(
    tensor: T,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    seed: int | None = None,
    stream: int = 0,
    offset: int = 0,
    fan_in: int | None = None,
    fan_out: int | None = None,
    in_axis: int = 1,
    out_axis: int = 0,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
    threads: int | None = None,
    dtype: object = None,
) -> T:
    """Fill `tensor` in place with He-uniform samples U(-bound, bound); return `tensor`.

    bound = sqrt(3) * gain / sqrt(fan), so the variance is gain^2 / fan as for
    :func:`kaiming_normal_`. Samples never leave [-bound, bound]. ``a=5 ** 0.5`` gives
    ``nn.Linear``'s default weight.

    Parameters
    ----------
    {tensor}
    {kaiming}
    {seed_stream_offset}
    {fans}
    {axes_torch}
    {block_threads_dtype}

    {returns_raises}
    {kaiming_raises}

    Warns
    -----
    {warns}

    See Also
    --------
    kaiming_normal_ : The normal distribution of the same variance.
    kaiming_uniform : The same values in a new array.

    Examples
    --------
    >>> w = fk.kaiming_uniform_(np.empty((64, 128), np.float32), a=5 ** 0.5, seed=0, stream=1)
    >>> bool(abs(w).max() <= 1 / 128 ** 0.5)          # nn.Linear's bound, 1 / sqrt(fan_in)
    True
    """
    std = _kaiming_std(a, mode, nonlinearity, fan_in, fan_out, in_axis, out_axis)

    def params(shape: tuple[int, ...], name: str) -> Params:
        bound = _SQRT3 * std(shape)
        return _uniform_params(-bound, bound)

    return _fill(tensor, _UNIFORM, params, seed=seed, stream=stream, offset=offset,
                 threads=threads, dtype=dtype,
                 global_shape=global_shape, block_start=block_start)  # fmt: skip


@_docs.documented
def random_raw(
    out: T,
    *,
    seed: int,
    stream: int = 0,
    offset: int = 0,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
    threads: int | None = None,
) -> T:
    """Fill a writable uint32 buffer with raw Philox4x32-10 words; return `out`.

    Word j is lane (offset + j) % 4 of block (offset + j) // 4 of `stream`: the counter is
    (block low, block high, stream low, stream high) and the key (seed low, seed high). This
    reproduces Random123's published known-answer vectors.

    Parameters
    ----------
    out : buffer or torch.Tensor
        A writable buffer of uint32 elements (NumPy array, memoryview, array.array("I"), a
        torch.uint32 CPU tensor, ...), any non-overlapping strides.
    seed : int
        The Philox key, an int in ``[0, 2**64)``; required (None is refused).
    stream : int, default 0
        The Philox stream, an int in ``[0, 2**64)``.
    offset : int, default 0
        The index of the first word in the stream, >= 0; the stream holds 2**66 words.
    {global_shape}
    {block_start}
    {threads}

    Returns
    -------
    out : same type as `out`
        The object given, filled.

    Raises
    ------
    TypeError
        `seed` is None or not an int; `out` is not a buffer of uint32 elements.
    ValueError
        `out` is read-only or overlaps itself; `seed` or `stream` outside ``[0, 2**64)``; a
        negative `offset` or one whose range runs past the end of the stream; ``threads=0``;
        `global_shape` and `block_start` do not hold the buffer.

    Warns
    -----
    {warns}

    Examples
    --------
    >>> words = fk.random_raw(np.empty(4, np.uint32), seed=0)   # block 0 of stream 0
    >>> [hex(w) for w in words]
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    """
    if seed is None:
        raise TypeError("random_raw needs an explicit seed (an int in [0, 2**64))")
    no_params: Params = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, False)
    return _fill(out, _RAW, lambda shape, name: no_params, seed=seed, stream=stream,
                 offset=offset, threads=threads, dtype=None, supported=("uint32",),
                 global_shape=global_shape, block_start=block_start)  # fmt: skip
