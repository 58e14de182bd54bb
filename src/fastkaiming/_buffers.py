"""From any writable buffer to a view of the same memory, never a copy.

Buffer-protocol objects (NumPy, memoryview, array.array, mmap, bytearray), torch tensors (checked
by their adapter, fastkaiming.torch, through _adapters) and other DLPack producers' CPU tensors.
bfloat16 travels as uint16 with its own code. Every refusal is a TypeError or ValueError that
names the dtype or kind in the caller's terms.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import _adapters, _checks, _core
from ._dtypes import CODES, FLOAT_DTYPES, ITEMSIZE, check_match, device_error, dtype_name

# DLPack (type code, bits) of each dtype, lanes 1 (kDLUInt 1, kDLFloat 2, kDLBfloat 4)
_DLPACK = {(1, 32): "uint32", (2, 16): "float16", (2, 32): "float32", (2, 64): "float64",
           (4, 16): "bfloat16"}  # fmt: skip
_DLPACK_KINDS = {0: "int", 1: "uint", 2: "float", 4: "bfloat", 5: "complex", 6: "bool"}  # + bits
_DLPACK_CPU = 1
_DLPACK_DEVICES = {1: "cpu", 2: "cuda", 3: "cuda_host", 4: "opencl", 7: "vulkan", 8: "metal",
                   9: "vpi", 10: "rocm", 11: "rocm_host", 13: "cuda_managed", 14: "oneapi"}  # fmt: skip
# One byte per element with no numeric meaning: read through dtype=.
_RAW_BYTE_KINDS = ("u1", "i1", "S1")


class Target(NamedTuple):
    array: np.ndarray | _core.HostMemory  # a view of the caller's memory
    dtype: str  # one of _CODES
    code: int  # the C core's dtype code
    written: Callable[[], None] | None = None  # to call after writing (torch's version counter)


def numpy_name(dt: np.dtype) -> str:
    """A NumPy dtype as NumPy users write it: 'complex64', 'datetime64[s]', '|V16', 'int4'."""
    if dt.names is not None or dt.subdtype is not None:
        return f"{dt} (structured)"
    if dt.type.__module__ != "numpy":  # ml_dtypes' float8_e4m3fn, int4, ...
        return dt.name
    if dt.kind in "SUV":
        return dt.str
    if not dt.isnative and dt.itemsize > 1:
        return f"{dt.str!r} ({dt.name}, non-native byte order)"
    return dt.name


def _unsupported(what: str, supported: tuple[str, ...]) -> TypeError:
    return TypeError(f"tensor has unsupported dtype {what}; supported dtypes: {', '.join(supported)}")


def _refused(tensor: object, how: str, exc: Exception) -> TypeError:
    """A producer's own error while exporting its memory, as a TypeError that says so."""
    return TypeError(
        f"tensor ({type(tensor).__name__}) could not export its memory through {how}: "
        f"{type(exc).__name__}: {exc}"
    )


def _from_dlpack(tensor: object, dtype: object, supported: tuple[str, ...]) -> Target:
    """A DLPack tensor (a producer other than torch) on the host, viewed in place."""
    try:
        kind, index = (int(x) for x in tensor.__dlpack_device__())  # type: ignore[attr-defined]
    except (TypeError, ValueError, BufferError, RuntimeError, NotImplementedError, OverflowError) as exc:
        raise _refused(tensor, "DLPack", exc) from None
    if kind != _DLPACK_CPU:
        raise device_error(f"{_DLPACK_DEVICES.get(kind, f'device type {kind}')}:{index}")
    try:
        try:
            capsule = tensor.__dlpack__(max_version=(1, 0), copy=False)  # type: ignore[attr-defined]
        except TypeError:  # a producer that predates DLPack 1.0's keywords
            capsule = tensor.__dlpack__()  # type: ignore[attr-defined]
        view = _core.DLView(capsule)
    except (TypeError, ValueError, BufferError, RuntimeError, NotImplementedError, OverflowError) as exc:
        raise _refused(tensor, "DLPack", exc) from None
    if view.readonly:
        raise ValueError(
            f"tensor is read-only ({type(tensor).__name__}); immutable arrays (JAX, ...) cannot be "
            "filled in place: use the out-of-place constructors, e.g. "
            "fastkaiming.kaiming_normal(shape, dtype=...)"
        )
    found = _DLPACK.get((view.code, view.bits)) if view.lanes == 1 else None
    if found is None or found not in supported:
        kind_name = _DLPACK_KINDS.get(view.code, f"DLPack type code {view.code}, bits ")
        what = "bool" if view.code == 6 else f"{kind_name}{view.bits}"
        raise _unsupported(what if view.lanes == 1 else f"{what} x {view.lanes} lanes", supported)
    check_match(dtype, found, supported)
    return Target(np.asarray(view), found, CODES[found])


_NATIVE = {np.dtype(name): name for name in CODES if name != "bfloat16"}
# NumPy kinds the buffer protocol can carry; other kinds and dtypes from other packages
# (ml_dtypes' float8/int4, ...) are named and refused before a memoryview is tried.
_BUFFER_KINDS = "biufcSU"


def adapted(tensor: object, adapter: _adapters.Adapter, dtype: object, supported: tuple[str, ...]) -> Target:
    """A framework's tensor, checked by its adapter: a view of its host memory."""
    name, address, shape, steps = adapter.memory(tensor, dtype, supported)
    memory = _core.HostMemory(tensor, address, shape, steps, ITEMSIZE[name])
    return Target(memory, name, CODES[name], adapter.written(tensor))


def as_target(tensor: object, dtype: object, supported: tuple[str, ...] = FLOAT_DTYPES) -> Target:
    """Check `tensor` and return a writable NumPy view of it. Writes nothing."""
    if type(tensor) is not np.ndarray and (adapter := _adapters.find(tensor)) is not None:
        return adapted(tensor, adapter, dtype, supported)  # a torch tensor
    return buffer_target(tensor, dtype, supported)


def buffer_target(tensor: object, dtype: object, supported: tuple[str, ...]) -> Target:
    """as_target for an object no framework adapter takes (the caller has looked): NumPy, the
    buffer protocol, DLPack. Writes nothing."""
    if isinstance(tensor, np.ndarray):
        if dtype is None and tensor.flags.c_contiguous:
            # fast path, the common case; every other case takes the general path below
            name = _NATIVE.get(tensor.dtype)
            if name in supported and tensor.flags.writeable:
                return Target(tensor, name, CODES[name])  # type: ignore[index]
        if tensor.dtype.name == "bfloat16" and "bfloat16" in supported:
            # ml_dtypes' bfloat16: no buffer-protocol format, but a uint16 view is the same memory
            check_match(dtype, "bfloat16", supported)
            if not tensor.flags.writeable:
                raise ValueError("tensor is read-only (ndarray); pass a writable buffer")
            return _checked(Target(tensor.view(np.uint16), "bfloat16", CODES["bfloat16"]))
        dt = tensor.dtype
        if dt.kind not in _BUFFER_KINDS or dt.type.__module__ != "numpy" or dt.names is not None:
            raise _unsupported(numpy_name(dt), supported)
    elif hasattr(tensor, "__dlpack__") and hasattr(tensor, "__dlpack_device__"):
        try:
            memoryview(tensor)  # type: ignore[arg-type]
        except TypeError:  # DLPack only: the buffer protocol cannot see it
            return _checked(_from_dlpack(tensor, dtype, supported))
        except (ValueError, BufferError, RuntimeError, NotImplementedError, OverflowError):
            pass  # reported below
    try:
        view = memoryview(tensor)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            "tensor must support the buffer protocol (a NumPy array, memoryview, array.array, "
            f"mmap, bytearray, ...), got {type(tensor).__name__}"
        ) from None
    except (ValueError, BufferError, RuntimeError, NotImplementedError, OverflowError) as exc:
        raise _refused(tensor, "the buffer protocol", exc) from None
    if view.readonly:
        raise ValueError(f"tensor is read-only ({type(tensor).__name__}); pass a writable buffer")
    try:
        array = np.asarray(view)
    except (TypeError, ValueError, NotImplementedError):
        raise TypeError(
            f"tensor has unsupported buffer format {view.format!r}; "
            f"supported dtypes: {', '.join(supported)}"
        ) from None
    wanted = None if dtype is None else dtype_name(dtype, supported)

    if array.dtype.itemsize == 1 and array.dtype.str[1:] in _RAW_BYTE_KINDS:
        if wanted is None:
            raise TypeError(
                f"tensor is a raw byte buffer (format {view.format!r}); pass dtype= "
                f"({', '.join(supported)}) to say how to read it"
            )
        itemsize = ITEMSIZE[wanted]
        if not view.c_contiguous:
            raise ValueError("a raw byte buffer read through dtype= must be contiguous")
        if view.nbytes % itemsize:
            raise ValueError(
                f"tensor has {view.nbytes} bytes, not a multiple of the {itemsize}-byte "
                f"item size of {wanted}"
            )
        array = np.frombuffer(view, dtype=np.uint16 if wanted == "bfloat16" else wanted)
        name = wanted
    elif array.dtype == np.uint16 and wanted == "bfloat16":
        name = "bfloat16"  # bfloat16 bits held as uint16
    else:
        name = array.dtype.name
        if name not in supported or not array.dtype.isnative:
            raise _unsupported(numpy_name(array.dtype), supported)
        check_match(dtype, name, supported)
    return _checked(Target(array, name, CODES[name]))


def _checked(target: Target) -> Target:
    """Dimension count and overlap, for every kind of buffer."""
    array = target.array
    _checks.layout(array.ndim, array.shape, array.strides, array.itemsize)
    return target

