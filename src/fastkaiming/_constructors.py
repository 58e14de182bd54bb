"""Out-of-place constructors: a new NumPy array, filled in one pass (for immutable-array users)."""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _api, _buffers, _checks, _family
from ._buffers import FLOAT_DTYPES


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
    dtype = _buffers.torch_dtype(dtype, FLOAT_DTYPES) or dtype  # torch.float32: "float32"
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


def _constructor(fill: Callable[..., Any]) -> Callable[..., np.ndarray]:
    def make(shape: int | Sequence[int], dtype: object = "float32", *args: Any, **kwargs: Any) -> np.ndarray:
        return fill(empty(shape, dtype), *args, **kwargs)  # type: ignore[no-any-return]

    make.__name__ = make.__qualname__ = fill.__name__.rstrip("_")
    make.__wrapped__ = fill  # type: ignore[attr-defined]
    make.__doc__ = (
        f"A new array of `shape` and `dtype` (float32 by default or None) filled by "
        f"{fill.__name__}(array, *args, **kwargs).\n\n"
        f"{fill.__doc__}"
    )
    return make


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
