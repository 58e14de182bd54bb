"""Argument checks shared by every public function: one place for every message."""
from __future__ import annotations

import math
import numbers
import os
import secrets
import sys
from collections.abc import Sequence

import numpy as np

from ._core import MAX_NDIM, MIN_PARALLEL

U64 = 1 << 64
# Largest finite value of each output dtype; parameters beyond it are rejected.
FLOAT_MAX = {"float16": 65504.0, "float32": 3.4028234663852886e38, "bfloat16": 3.3895313892515355e38}


# The C core takes the thread count as an int (and caps it to its pool and to the work).
MAX_THREADS = (1 << 31) - 1


def shown(value: object) -> str:
    """repr(value) for a message; a huge int by its size (str() of 4300+ digits raises)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) >= 1 << 128:
        return f"a{' negative' if value < 0 else 'n'} int of {int(value).bit_length()} bits"
    return repr(value)


def shown_ints(values: Sequence[int]) -> str:
    """A tuple of ints for a message, each as shown()."""
    return f"({', '.join(shown(v) for v in values)}{',' if len(values) == 1 else ''})"


def array_scalar(value: object, floats: bool) -> int | float | None:
    """A 0-d NumPy, torch or JAX array (or a NumPy scalar of ml_dtypes' bfloat16) of an integer
    dtype, or also of a float dtype if `floats`, as a Python number; None for anything else
    (bool and complex arrays, other shapes, a traced JAX value, a meta tensor).

    torch and JAX are looked up in sys.modules: an object of theirs exists only once they are
    imported, and they are never imported here.
    """
    if isinstance(value, (np.ndarray, np.generic)):
        kind = "f" if value.dtype.name == "bfloat16" else value.dtype.kind
        if value.ndim == 0 and (kind in "iu" or floats and kind == "f"):
            return float(value) if kind == "f" else int(value)
        return None
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        dtype = value.dtype
        if value.dim() == 0 and not dtype.is_complex and dtype is not torch.bool and (
                floats or not dtype.is_floating_point):  # fmt: skip
            try:
                return value.item()  # type: ignore[no-any-return]
            except (RuntimeError, NotImplementedError, ValueError):  # meta, quantized
                return None
        return None
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(value, jax.Array):
        kind = getattr(value.dtype, "kind", "")  # a typed PRNG key's dtype has none
        kind = "f" if getattr(value.dtype, "name", "") == "bfloat16" else kind
        if value.ndim == 0 and (kind in ("i", "u") or floats and kind == "f"):
            try:
                return float(value) if kind == "f" else int(value)
            except TypeError:  # a tracer (ConcretizationTypeError): no value yet
                return None
    return None


def real(name: str, value: object, *, nonnegative: bool = False) -> float:
    """A finite real number (a 0-d array of one included), as float."""
    if type(value) is float:
        x = value
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        unwrapped = array_scalar(value, floats=True)
        if unwrapped is None:
            raise TypeError(f"{name} must be a real number, got {type(value).__name__} {shown(value)}")
        return real(name, unwrapped, nonnegative=nonnegative)
    else:
        try:
            x = float(value)
        except OverflowError:
            raise ValueError(f"{name} must be finite, got {shown(value)}, beyond the float64 range") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x!r}")
    if nonnegative and x < 0:
        raise ValueError(f"{name} must be >= 0, got {x!r}")
    return x


def integer(name: str, value: object) -> int:
    """An int (a NumPy integer, a 0-d integer array), never a bool or a float."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        unwrapped = array_scalar(value, floats=False)
        if unwrapped is None:
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {shown(value)}")
        return int(unwrapped)
    return int(value)


def seed(value: object) -> int:
    """A 64-bit Philox key; None draws one from the OS entropy pool."""
    if value is None:
        return secrets.randbits(64)
    s = integer("seed", value)
    if not 0 <= s < U64:
        raise ValueError(f"seed must be an int in [0, 2**64), got {shown(s)}")
    return s


def stream(value: object) -> int:
    s = integer("stream", value)
    if not 0 <= s < U64:
        raise ValueError(f"stream must be an int in [0, 2**64), got {shown(s)}")
    return s


def offset(value: object, count: int, per_block: int, dtype_name: str) -> int:
    """Sample index of the first element; the whole fill must stay inside the stream."""
    o = integer("offset", value)
    if o < 0:
        raise ValueError(f"offset must be >= 0, got {shown(o)}")
    length = per_block * U64
    if o + count > length:
        raise ValueError(
            f"offset range [{shown(o)}, {shown(o + count)}) runs past the end of the stream "
            f"({per_block} * 2**64 samples for {dtype_name})"
        )
    return o


def usable_cores() -> int:
    """Cores this process may run on: OMP_NUM_THREADS if set, else the affinity mask."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads(value: object, count: int | None = None) -> int:
    """scikit-learn's convention: None = usable cores, -1 = all of them, -2 = all but one.

    A fill of `count` elements too small to be split runs on one thread whatever the value:
    then the cores are not even counted.
    """
    t = None if value is None else integer("threads", value)
    if t == 0:
        raise ValueError("threads must be a nonzero int (None for all usable cores), got 0")
    if count is not None and count < MIN_PARALLEL:
        return 1
    if t is None:
        return usable_cores()
    if t < 0:
        return max(1, usable_cores() + 1 + t)
    return min(t, MAX_THREADS)


def representable(what: str, value: float, dtype: str, cause: str) -> float:
    """A parameter derived from `cause` (e.g. a bound from gain=) that the dtype must hold."""
    limit = FLOAT_MAX.get(dtype, sys.float_info.max)
    if not abs(value) <= limit:
        raise ValueError(f"{cause} gives {what} {value!r}, beyond the range of {dtype} (max {limit:.6g})")
    return value


# Views whose strides interleave are checked address by address up to this many elements.
OVERLAP_EXACT_LIMIT = 1 << 16


def layout(ndim: int, shape: Sequence[int], strides: Sequence[int], itemsize: int) -> None:
    """Dimension count and overlap of a view (strides in bytes), for every intake."""
    if ndim > MAX_NDIM:
        raise ValueError(f"tensor has {ndim} dimensions; at most {MAX_NDIM} are supported")
    no_overlap(shape, strides, itemsize)


def no_overlap(shape: Sequence[int], strides: Sequence[int], itemsize: int) -> None:
    """Reject a view in which two elements may share a byte (strides in bytes, any sign).

    Exact when the axes nest (sorted by |stride|, each |stride| at least the span of the axes
    below it: every C/F-order array, slice, transpose and reversal) and for views of up to
    OVERLAP_EXACT_LIMIT elements; a larger view with interleaved strides is rejected, as it may
    overlap.
    """
    if 0 in shape:
        return
    span = itemsize  # bytes from the first to past the last element of the axes so far
    for stride, length in sorted(zip(map(abs, strides), shape, strict=True)):
        if length == 1:
            continue
        if stride < span:
            break
        span += stride * (length - 1)
    else:
        return
    axes = [(abs(stride), length) for length, stride in zip(shape, strides, strict=True) if length > 1]
    if any(stride == 0 for stride, _ in axes):
        raise ValueError(
            "tensor has overlapping memory (a zero stride, as from broadcasting); "
            "fill a buffer whose elements are distinct"
        )
    described = f"shape {tuple(shape)}, strides {tuple(strides)} in bytes, {itemsize}-byte elements"
    count = math.prod(length for _, length in axes)
    if count > OVERLAP_EXACT_LIMIT:
        raise ValueError(
            f"tensor may overlap itself ({described}): its strides interleave and its {count} elements "
            "cannot be proved distinct; fill a contiguous buffer and copy it in"
        )
    starts = np.zeros(1, np.int64)
    for stride, length in axes:
        starts = (starts[:, None] + stride * np.arange(length, dtype=np.int64)).ravel()
    starts.sort()
    if (np.diff(starts) < itemsize).any():
        raise ValueError(
            f"tensor has overlapping memory ({described}: elements share bytes); "
            "fill a buffer whose elements are distinct"
        )


def choice(name: str, value: object, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {listed}, got {shown(value)}")
    return value
