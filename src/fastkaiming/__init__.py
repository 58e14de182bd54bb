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
from ._version import __version__

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
