"""fastkaiming: fast, reproducible, in-place Kaiming/He initialization of any buffer.

Samples come from a counter-based Philox4x32-10 generator in C: sample i of a fill depends
only on (seed, stream, offset + i, distribution, parameters, dtype), never on threads,
strides or how a buffer is split, so a huge initialization can be sharded freely.
"""
from ._api import (
    Generator,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    random_raw,
    runtime_info,
    trunc_normal_,
    uniform_,
)
from ._fans import calculate_gain, compute_fans
from ._version import __version__

__all__ = [
    "Generator",
    "calculate_gain",
    "compute_fans",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "random_raw",
    "runtime_info",
    "trunc_normal_",
    "uniform_",
    "__version__",
]
