"""From any writable buffer-protocol object to a NumPy view of the same memory (no copy)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _core

FLOAT_DTYPES = ("float16", "float32", "float64")
_CODES = {
    "uint32": _core.DTYPE_UINT32,
    "float16": _core.DTYPE_FLOAT16,
    "float32": _core.DTYPE_FLOAT32,
    "float64": _core.DTYPE_FLOAT64,
}
# One byte per element with no numeric meaning: read through dtype=.
_RAW_BYTE_KINDS = ("u1", "i1", "S1")


class Target(NamedTuple):
    array: np.ndarray  # a view of the caller's memory
    dtype: str  # one of _CODES
    code: int  # the C core's dtype code


def _dtype_name(dtype: object, supported: tuple[str, ...]) -> str:
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(
            f"dtype must be one of {', '.join(supported)}, got {dtype!r}"
        ) from None
    if dt.name not in supported or not dt.isnative:
        raise TypeError(f"dtype must be one of {', '.join(supported)}, got {dt.str!r} ({dt.name})")
    return dt.name


_NATIVE = {np.dtype(name): name for name in _CODES}


def as_target(tensor: object, dtype: object, supported: tuple[str, ...] = FLOAT_DTYPES) -> Target:
    """Check `tensor` and return a writable NumPy view of it. Writes nothing."""
    if isinstance(tensor, np.ndarray) and dtype is None and tensor.flags.c_contiguous:
        # fast path, the common case; every other case takes the general path below
        name = _NATIVE.get(tensor.dtype)
        if name in supported and tensor.flags.writeable:
            return Target(tensor, name, _CODES[name])  # type: ignore[index]
    try:
        view = memoryview(tensor)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            "tensor must support the buffer protocol (a NumPy array, memoryview, array.array, "
            f"mmap, bytearray, ...), got {type(tensor).__name__}"
        ) from None
    if view.readonly:
        raise ValueError(f"tensor is read-only ({type(tensor).__name__}); pass a writable buffer")
    try:
        array = np.asarray(view)
    except (TypeError, ValueError, NotImplementedError):
        raise TypeError(
            f"tensor has unsupported buffer format {view.format!r}; "
            f"supported dtypes: {', '.join(supported)}"
        ) from None
    wanted = None if dtype is None else _dtype_name(dtype, supported)

    if array.dtype.itemsize == 1 and array.dtype.str[1:] in _RAW_BYTE_KINDS:
        if wanted is None:
            raise TypeError(
                f"tensor is a raw byte buffer (format {view.format!r}); pass dtype= "
                f"({', '.join(supported)}) to say how to read it"
            )
        itemsize = np.dtype(wanted).itemsize
        if not view.c_contiguous:
            raise ValueError("a raw byte buffer read through dtype= must be contiguous")
        if view.nbytes % itemsize:
            raise ValueError(
                f"tensor has {view.nbytes} bytes, not a multiple of the {itemsize}-byte "
                f"item size of {wanted}"
            )
        array = np.frombuffer(view, dtype=wanted)
    else:
        name = array.dtype.name
        if name not in supported or not array.dtype.isnative:
            raise TypeError(
                f"tensor has unsupported dtype {array.dtype.str!r} ({name}); "
                f"supported dtypes: {', '.join(supported)}"
            )
        if wanted is not None and wanted != name:
            raise TypeError(f"dtype={wanted} does not match the tensor's dtype {name}")
    if array.ndim > _core.MAX_NDIM:
        raise ValueError(f"tensor has {array.ndim} dimensions; at most {_core.MAX_NDIM} are supported")
    for length, stride in zip(array.shape, array.strides, strict=True):
        if length > 1 and stride == 0 and array.size > 0:
            raise ValueError(
                "tensor has overlapping memory (a zero stride, as from broadcasting); "
                "fill a buffer whose elements are distinct"
            )
    return Target(array, array.dtype.name, _CODES[array.dtype.name])
