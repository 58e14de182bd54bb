"""Out-of-place constructors: a new NumPy array, filled in one pass (for immutable-array users)."""
from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _api, _checks, _docs, _dtypes, _family
from ._dtypes import FLOAT_DTYPES


def check_shape(shape: object) -> tuple[int, ...]:
    """An int or a sequence of non-negative ints, as a tuple."""
    try:
        dims = (operator.index(shape),) if not hasattr(shape, "__iter__") else tuple(  # type: ignore[arg-type]
            operator.index(d) for d in shape  # type: ignore[attr-defined]
        )
    except TypeError:
        raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must not have negative dimensions, got {_checks.shown_ints(dims)}")
    return dims


def empty(shape: int | Sequence[int], dtype: object = "float32") -> np.ndarray:
    """An uninitialized array; its pages are first touched by the (parallel) fill.

    NumPy asks Linux for transparent huge pages on large allocations; bfloat16 needs ml_dtypes.
    dtype=None means the default, float32; NumPy, JAX and torch dtypes are accepted.
    """
    dims = check_shape(shape)
    if dtype is None:
        dtype = "float32"
    dtype = _dtypes.torch_dtype(dtype, FLOAT_DTYPES) or dtype  # torch.float32: "float32"
    if dtype == "bfloat16" or getattr(dtype, "__name__", None) == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise ImportError("bfloat16 NumPy arrays need ml_dtypes: pip install ml_dtypes") from None
        return np.empty(dims, ml_dtypes.bfloat16)
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"dtype must be one of {', '.join(FLOAT_DTYPES)}, got {dtype!r}") from None
    if dt.name not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be one of {', '.join(FLOAT_DTYPES)}, got {dt.name!r}")
    return np.empty(dims, dt)


ALIGN = 64  # bytes: XLA's CPU client adopts (does not copy) host memory aligned to this


def aligned_empty(shape: tuple[int, ...], dtype: object) -> np.ndarray:
    """An uninitialized array like empty(shape, dtype) whose data starts on an ALIGN-byte boundary
    (for a hand-over to JAX without a copy)."""
    dt = empty((0,), dtype).dtype  # checked as empty() checks it; bfloat16 needs ml_dtypes
    nbytes = math.prod(shape) * dt.itemsize
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start : start + nbytes].view(dt).reshape(shape)


def _constructor(fill: Callable[..., Any]) -> Callable[..., np.ndarray]:
    def make(shape: int | Sequence[int], dtype: object = "float32", *args: Any, **kwargs: Any) -> np.ndarray:
        return fill(empty(shape, dtype), *args, **kwargs)  # type: ignore[no-any-return]

    name = fill.__name__.rstrip("_")
    make.__name__ = make.__qualname__ = name
    make.__wrapped__ = fill  # type: ignore[attr-defined]
    make.__signature__ = signature(fill)  # type: ignore[attr-defined]
    if fill.__doc__ is not None:  # (python -OO)
        make.__doc__ = _docs.constructor_doc(
            fill,
            f"A new NumPy array of `shape` and `dtype`, filled as by :func:`{fill.__name__}`.\n\n"
            f"``{name}(shape, dtype, ...)`` is ``{fill.__name__}(numpy.empty(shape, dtype), ...)``: "
            "the same values, for immutable-array users (JAX: hand it to ``jnp.asarray``).",
            f"""
            >>> w = fk.{name}((256, 128), seed=0)
            >>> w.shape, w.dtype.name
            ((256, 128), 'float32')
            >>> bool((w == fk.{fill.__name__}(np.empty((256, 128), np.float32), seed=0)).all())
            True
            """,
            _docs.CONSTRUCTOR_FRAGMENTS,
        )
    return make


def signature(fill: Callable[..., Any], drop: tuple[str, ...] = ()) -> inspect.Signature:
    """`fill`'s signature with its buffer replaced by (shape, dtype="float32"): the constructors'.
    `drop`: more of the fill's parameters to leave out (fastkaiming.dask's)."""
    P = inspect.Parameter
    own = [P("shape", P.POSITIONAL_OR_KEYWORD, annotation="int | Sequence[int]"),
           P("dtype", P.POSITIONAL_OR_KEYWORD, default="float32", annotation="object")]  # fmt: skip
    params = list(inspect.signature(fill).parameters.values())[1:]
    kept = [p for p in params if p.name != "dtype" and p.name not in drop]
    return inspect.Signature([*own, *kept], return_annotation="np.ndarray")


kaiming_normal = _constructor(_api.kaiming_normal_)
kaiming_uniform = _constructor(_api.kaiming_uniform_)
normal = _constructor(_api.normal_)
uniform = _constructor(_api.uniform_)
trunc_normal = _constructor(_api.trunc_normal_)
variance_scaling = _constructor(_family.variance_scaling_)
he_normal = _constructor(_family.he_normal_)
he_uniform = _constructor(_family.he_uniform_)
glorot_normal = _constructor(_family.glorot_normal_)
glorot_uniform = _constructor(_family.glorot_uniform_)
lecun_normal = _constructor(_family.lecun_normal_)
lecun_uniform = _constructor(_family.lecun_uniform_)
xavier_normal = _constructor(_family.xavier_normal_)
xavier_uniform = _constructor(_family.xavier_uniform_)

NAMES = (
    "kaiming_normal", "kaiming_uniform", "normal", "uniform", "trunc_normal", "variance_scaling",
    "he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "lecun_normal", "lecun_uniform",
    "xavier_normal", "xavier_uniform",
)  # fmt: skip
