"""fastkaiming: fast, reproducible, in-place Kaiming/He initialization of any buffer.

Samples come from a counter-based Philox4x32-10 generator in C: sample i of a fill depends
only on (seed, stream, offset + i, distribution, parameters, dtype), never on threads,
strides or how a buffer is split, so a huge initialization can be sharded freely.
"""
import importlib as _importlib

from ._api import (
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    random_raw,
    runtime_info,
    trunc_normal_,
    uniform_,
)
from ._constructors import (
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    normal,
    trunc_normal,
    uniform,
    variance_scaling,
    xavier_normal,
    xavier_uniform,
)
from ._family import (
    glorot_normal_,
    glorot_uniform_,
    he_normal_,
    he_uniform_,
    lecun_normal_,
    lecun_uniform_,
    variance_scaling_,
    xavier_normal_,
    xavier_uniform_,
)
from ._fans import calculate_gain, compute_fans
from ._files import init_file, init_safetensors
from ._generator import Generator
from ._version import __version__

# Submodules with an optional dependency: imported on first use (PEP 562), never by
# `import fastkaiming`. Each extra is named after its dependency.
_OPTIONAL = ("dask", "jax", "torch")


def __getattr__(name: str) -> object:
    if name not in _OPTIONAL:
        raise AttributeError(f"module 'fastkaiming' has no attribute {name!r}")
    try:
        return _importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        if isinstance(exc.msg, str) and "pip install" in exc.msg:
            raise
        raise ImportError(
            f'fastkaiming.{name} needs {name} ({exc}): pip install "fastkaiming[{name}]"'
        ) from exc


def __dir__() -> list[str]:
    return sorted({*globals(), *_OPTIONAL})


__all__ = [
    "Generator",
    "__version__",
    "calculate_gain",
    "compute_fans",
    "glorot_normal",
    "glorot_normal_",
    "glorot_uniform",
    "glorot_uniform_",
    "he_normal",
    "he_normal_",
    "he_uniform",
    "he_uniform_",
    "init_file",
    "init_safetensors",
    "kaiming_normal",
    "kaiming_normal_",
    "kaiming_uniform",
    "kaiming_uniform_",
    "lecun_normal",
    "lecun_normal_",
    "lecun_uniform",
    "lecun_uniform_",
    "normal",
    "normal_",
    "random_raw",
    "runtime_info",
    "trunc_normal",
    "trunc_normal_",
    "uniform",
    "uniform_",
    "variance_scaling",
    "variance_scaling_",
    "xavier_normal",
    "xavier_normal_",
    "xavier_uniform",
    "xavier_uniform_",
]
