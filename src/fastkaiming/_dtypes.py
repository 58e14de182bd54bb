"""The dtypes the fills write, and the checks and messages every intake shares.

Below both intakes: _buffers (buffer-protocol and DLPack objects) and each framework adapter's
own (fastkaiming.torch._intake). Names a dtype in the caller's terms; imports no framework.
"""
from __future__ import annotations

import sys

import numpy as np

from . import _core

FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")
CODES = {
    "uint32": _core.DTYPE_UINT32,
    "float16": _core.DTYPE_FLOAT16,
    "float32": _core.DTYPE_FLOAT32,
    "float64": _core.DTYPE_FLOAT64,
    "bfloat16": _core.DTYPE_BFLOAT16,
}
ITEMSIZE = {"uint32": 4, "float16": 2, "float32": 4, "float64": 8, "bfloat16": 2}


def torch_dtype(dtype: object, supported: tuple[str, ...]) -> str | None:
    """A torch dtype's name ('float32' for torch.float32), None for anything that is not one;
    TypeError naming it if it is not supported. Never imports torch (an object of its exists
    only once it is imported)."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(dtype, torch.dtype):
        return None
    name = str(dtype).removeprefix("torch.")
    if name not in supported:
        raise TypeError(f"dtype must be one of {', '.join(supported)}, got {dtype}")
    return name


def dtype_name(dtype: object, supported: tuple[str, ...]) -> str:
    """The name of a dtype given as a string, a NumPy, JAX, ml_dtypes or torch dtype or type."""
    if (name := torch_dtype(dtype, supported)) is not None:
        return name
    if isinstance(dtype, str) and dtype == "bfloat16" or getattr(dtype, "__name__", None) == "bfloat16":
        name = "bfloat16"  # also ml_dtypes.bfloat16, without importing it
    else:
        try:
            dt = np.dtype(dtype)  # type: ignore[call-overload]
        except TypeError:
            raise TypeError(f"dtype must be one of {', '.join(supported)}, got {dtype!r}") from None
        if not dt.isnative and dt.itemsize > 1:
            raise TypeError(f"dtype must be one of {', '.join(supported)}, got {dt.str!r} ({dt.name})")
        name = dt.name
        if name not in supported:
            raise TypeError(f"dtype must be one of {', '.join(supported)}, got {dt.str!r} ({dt.name})")
    if name not in supported:
        raise TypeError(f"dtype must be one of {', '.join(supported)}, got {name!r}")
    return name


def check_match(dtype: object, name: str, supported: tuple[str, ...], shown: str | None = None) -> None:
    """dtype= on a typed tensor must name the tensor's own dtype (`shown`: as its framework says)."""
    if dtype is not None and (wanted := dtype_name(dtype, supported)) != name:
        raise TypeError(f"dtype={wanted} does not match the tensor's dtype {shown or name}")


def device_error(where: str) -> ValueError:
    """The error for a tensor in memory other than the host's (`where`: its device)."""
    return ValueError(
        f"tensor is on {where}; fastkaiming fills host (CPU) memory: fill a CPU tensor and copy "
        "it over, or move this one with .cpu()"
    )
