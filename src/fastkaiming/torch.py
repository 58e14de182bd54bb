"""A drop-in for ``torch.nn.init``: ``from fastkaiming import torch as init``.

Same names, signatures and semantics as torch.nn.init for kaiming_normal_, kaiming_uniform_,
xavier_normal_, xavier_uniform_, trunc_normal_, normal_, uniform_ (and calculate_gain), filled
by fastkaiming in place under ``torch.no_grad()``. The randomness comes from a fastkaiming seed:
``seed=`` if given, else drawn from ``generator`` (or torch's default generator), so
``torch.manual_seed(0)`` makes runs reproducible as it does for torch.nn.init.

``init_module_`` re-initializes a whole model the way each layer's ``reset_parameters`` would,
each parameter on its own stream derived from its qualified name.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from . import _api, _checks, _distributed, _family
from ._blocks import stream_for
from ._fans import calculate_gain, compute_fans

__all__ = [
    "calculate_gain",
    "init_module_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "stream_for",
    "trunc_normal_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
]


def _seed(generator: torch.Generator | None, seed: int | None) -> int:
    """The fastkaiming seed: `seed`, else 63 bits drawn from the torch generator."""
    if seed is not None:
        if generator is not None:
            raise ValueError("pass either generator= or seed=, not both")
        return seed
    draw = torch.randint(0, 2**63 - 1, (1,), generator=generator, dtype=torch.int64)
    return int(draw.item())


def kaiming_normal_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: torch.Generator | None = None,
                    *, seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.kaiming_normal_, filled by fastkaiming."""
    with torch.no_grad():
        return _api.kaiming_normal_(tensor, a, mode, nonlinearity, seed=_seed(generator, seed),
                                    stream=stream)  # fmt: skip


def kaiming_uniform_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: torch.Generator | None = None,
                     *, seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.kaiming_uniform_, filled by fastkaiming."""
    with torch.no_grad():
        return _api.kaiming_uniform_(tensor, a, mode, nonlinearity, seed=_seed(generator, seed),
                                     stream=stream)  # fmt: skip


def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0,
                   generator: torch.Generator | None = None, *, seed: int | None = None,
                   stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.xavier_normal_, filled by fastkaiming."""
    with torch.no_grad():
        return _family.xavier_normal_(tensor, gain, seed=_seed(generator, seed), stream=stream)


def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0,
                    generator: torch.Generator | None = None, *, seed: int | None = None,
                    stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.xavier_uniform_, filled by fastkaiming."""
    with torch.no_grad():
        return _family.xavier_uniform_(tensor, gain, seed=_seed(generator, seed), stream=stream)


def trunc_normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: torch.Generator | None = None, *,
                  seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.trunc_normal_ (absolute bounds), by inverse CDF: correct in float16 and
    bfloat16 too, and never outside [a, b]."""
    with torch.no_grad():
        return _api.trunc_normal_(tensor, mean, std, a, b, seed=_seed(generator, seed), stream=stream)


def normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0,
            generator: torch.Generator | None = None, *, seed: int | None = None,
            stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.normal_, filled by fastkaiming."""
    with torch.no_grad():
        return _api.normal_(tensor, mean, std, seed=_seed(generator, seed), stream=stream)


def uniform_(tensor: torch.Tensor, a: float = 0.0, b: float = 1.0,
             generator: torch.Generator | None = None, *, seed: int | None = None,
             stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.uniform_, filled by fastkaiming (samples in [a, b])."""
    with torch.no_grad():
        return _api.uniform_(tensor, a, b, seed=_seed(generator, seed), stream=stream)


# Layers whose reset_parameters is kaiming_uniform_(weight, a=sqrt(5)) + the fan_in bias rule
_WEIGHT_BIAS = (torch.nn.Linear, torch.nn.modules.conv._ConvNd)
_NORMS = (
    torch.nn.modules.batchnorm._NormBase,
    torch.nn.LayerNorm,
    torch.nn.GroupNorm,
    torch.nn.RMSNorm,
)


def _reset(module: torch.nn.Module, prefix: str, seed: int, threads: int | None) -> bool:
    """Re-initialize the parameters `module` owns as its reset_parameters would; False if
    the module type is not known here."""
    def name(p: str) -> str:
        return f"{prefix}.{p}" if prefix else p

    params = dict(module.named_parameters(recurse=False))
    if isinstance(module, _WEIGHT_BIAS):
        weight = params["weight"]
        # torch: kaiming_uniform_(weight, a=sqrt(5)); bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        _api.kaiming_uniform_(weight, a=math.sqrt(5), seed=seed, stream=stream_for(name("weight")),
                              threads=threads)  # fmt: skip
        if params.get("bias") is not None:
            fan_in = compute_fans(tuple(weight.shape))[0]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            _api.uniform_(params["bias"], -bound, bound, seed=seed, stream=stream_for(name("bias")),
                          threads=threads)  # fmt: skip
        return True
    if isinstance(module, _NORMS):
        for p in ("weight", "bias"):
            if params.get(p) is not None:
                params[p].fill_(1.0 if p == "weight" else 0.0)
        return True
    if isinstance(module, torch.nn.Embedding):
        _api.normal_(params["weight"], seed=seed, stream=stream_for(name("weight")), threads=threads)
        if module.padding_idx is not None:
            params["weight"][module.padding_idx].fill_(0)
        return True
    return False


def init_module_(module: torch.nn.Module, *, seed: int, prefix: str = "",
                 unknown: str = "error", threads: int | None = None,
                 check_seed: bool = False) -> torch.nn.Module:  # fmt: skip
    """Re-initialize every parameter of `module` in place, as its layers' reset_parameters
    would, each parameter on the stream ``stream_for(qualified name)``.

    The values depend only on (seed, qualified name, shape, dtype): not on parameter order,
    and not on who fills what. ``init_module_(model.blocks[3], seed=s, prefix="blocks.3")``
    gives block 3 exactly the values a whole-model call gives it.

    Known: Linear, Conv*/ConvTranspose* (kaiming_uniform_(a=sqrt(5)), bias
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))); BatchNorm*/InstanceNorm*/LayerNorm/GroupNorm/RMSNorm
    (ones, zeros); Embedding (N(0, 1), padding row zero). Modules of other types that own
    parameters: ``unknown="error"`` raises TypeError (nothing is written), ``"skip"`` leaves
    them, ``"reset"`` calls their reset_parameters() (torch's generator, not this contract).
    ``check_seed=True`` first compares `seed` across the default process group (one all_gather;
    nothing to compare without one) and raises ValueError naming the ranks' seeds if they differ.
    """
    _checks.choice("unknown", unknown, ("error", "skip", "reset"))
    if check_seed:
        _distributed.check_seed(seed)
    modules = [(f"{prefix}.{n}" if prefix and n else prefix or n, m) for n, m in module.named_modules()]
    owners = [(n, m) for n, m in modules if any(True for _ in m.parameters(recurse=False))]
    if unknown == "error":
        strangers = sorted({type(m).__name__ for n, m in owners
                            if not isinstance(m, (*_WEIGHT_BIAS, *_NORMS, torch.nn.Embedding))})  # fmt: skip
        if strangers:
            raise TypeError(
                f"init_module_ does not know how to initialize {', '.join(strangers)}; pass "
                "unknown='skip' to leave them or unknown='reset' to call their reset_parameters()"
            )
    with torch.no_grad():
        for n, m in owners:
            if not _reset(m, n, seed, threads) and unknown == "reset":
                reset: Any = getattr(m, "reset_parameters", None)
                if reset is None:
                    warnings.warn(f"{n or type(m).__name__} has no reset_parameters()", stacklevel=2)
                else:
                    reset()
    return module
