"""A drop-in for ``torch.nn.init``: ``from fastkaiming import torch as init``.

Every function of torch.nn.init, with the same names, signatures and semantics:

- kaiming_normal_, kaiming_uniform_, xavier_normal_, xavier_uniform_, trunc_normal_, normal_,
  uniform_ are filled by fastkaiming in place under ``torch.no_grad()``;
- orthogonal_ and sparse_ follow torch's algorithms on fastkaiming's normal fill (the QR of a
  fastkaiming normal matrix; the zeroed rows chosen from fastkaiming words), so their result is a
  function of the seed;
- constant_, zeros_, ones_, eye_, dirac_ need no randomness and behave exactly as torch's;
- calculate_gain is torch's formula.

The randomness comes from a fastkaiming seed: ``seed=`` if given, else drawn from ``generator``
(or torch's default generator), so ``torch.manual_seed(0)`` makes runs reproducible as it does
for torch.nn.init. On a meta tensor every function is a no-op that returns the tensor, as
torch's are (arguments are still checked as torch checks them; no seed is drawn).

``init_module_`` re-initializes a whole model the way each layer's ``reset_parameters`` would,
each parameter on its own stream derived from its qualified name.
"""
from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:
    raise ImportError(f'fastkaiming.torch needs torch ({exc}): pip install "fastkaiming[torch]"') from exc

# The package's roles: _dropins (torch.nn.init), _modules (init_module_), _fast_init (a library's
# own init routed here), _intake (a tensor's memory), _routing (DTensor shards, CUDA staging,
# FSDP2). The core reaches _intake and _routing only through fastkaiming._adapters.
from .._blocks import stream_for
from .._fans import calculate_gain, kaiming_std
from ._dropins import (
    constant_,
    dirac_,
    eye_,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    ones_,
    orthogonal_,
    sparse_,
    trunc_normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)
from ._fast_init import fast_init
from ._modules import init_module_

__all__ = [
    "calculate_gain",
    "constant_",
    "dirac_",
    "eye_",
    "fast_init",
    "init_module_",
    "kaiming_normal_",
    "kaiming_std",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "orthogonal_",
    "sparse_",
    "stream_for",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]
