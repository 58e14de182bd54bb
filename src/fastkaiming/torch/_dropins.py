"""The drop-ins for ``torch.nn.init``: every function of it, with its names, signatures and
semantics, its random fills made by fastkaiming (see the package docstring)."""
from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .. import _api, _checks, _docs, _family
from .._blocks import stream_for
from . import _routing

_init = torch.nn.init


def _seed(generator: torch.Generator | None, seed: int | None) -> int:
    """The fastkaiming seed: `seed`, else 63 bits drawn from the torch generator."""
    if seed is not None:
        if generator is not None:
            raise ValueError("pass either generator= or seed=, not both")
        return seed
    draw = torch.randint(0, 2**63 - 1, (1,), generator=generator, dtype=torch.int64)
    return int(draw.item())


def _is_meta(tensor: object) -> bool:
    return getattr(tensor, "is_meta", False) is True


def _on_meta(torch_init: Callable[..., torch.Tensor], tensor: torch.Tensor, generator: object,
             seed: object, *args: object) -> torch.Tensor:  # fmt: skip
    """torch's own init on a meta tensor: its checks, then nothing (no data, no seed drawn)."""
    if seed is not None and generator is not None:
        raise ValueError("pass either generator= or seed=, not both")
    torch_init(tensor, *args)
    return tensor


@_docs.documented
def kaiming_normal_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: torch.Generator | None = None,
                    *, seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.kaiming_normal_, filled by fastkaiming: N(0, std^2), std = gain / sqrt(fan).

    :func:`fastkaiming.kaiming_normal_` with torch's signature and the seed from torch's
    generator.

    Parameters
    ----------
    {torch_tensor}
    {kaiming}
    {drop_in_tail}
    {kaiming_raises}

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> w = torch.empty(256, 128)
    >>> _ = torch.manual_seed(0)
    >>> a = init.kaiming_normal_(w, nonlinearity="relu").clone()
    >>> _ = torch.manual_seed(0)
    >>> torch.equal(init.kaiming_normal_(w, nonlinearity="relu"), a)
    True
    """
    if _is_meta(tensor):
        return _on_meta(_init.kaiming_normal_, tensor, generator, seed, a, mode, nonlinearity)
    with torch.no_grad():
        return _api.kaiming_normal_(tensor, a, mode, nonlinearity, seed=_seed(generator, seed),
                                    stream=stream)  # fmt: skip


@_docs.documented
def kaiming_uniform_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: torch.Generator | None = None,
                     *, seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.kaiming_uniform_, filled by fastkaiming: U(-bound, bound), bound = gain * sqrt(3 / fan).

    :func:`fastkaiming.kaiming_uniform_` with torch's signature and the seed from torch's
    generator; samples never leave [-bound, bound].

    Parameters
    ----------
    {torch_tensor}
    {kaiming}
    {drop_in_tail}
    {kaiming_raises}

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> w = init.kaiming_uniform_(torch.empty(64, 128), a=5 ** 0.5, seed=0)   # nn.Linear's init
    >>> bool(w.abs().max() <= 128 ** -0.5)
    True
    """
    if _is_meta(tensor):
        return _on_meta(_init.kaiming_uniform_, tensor, generator, seed, a, mode, nonlinearity)
    with torch.no_grad():
        return _api.kaiming_uniform_(tensor, a, mode, nonlinearity, seed=_seed(generator, seed),
                                     stream=stream)  # fmt: skip


@_docs.documented
def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0,
                   generator: torch.Generator | None = None, *, seed: int | None = None,
                   stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.xavier_normal_, filled by fastkaiming: N(0, std^2), std = gain * sqrt(2 / fan_sum).

    :func:`fastkaiming.xavier_normal_` with torch's signature and the seed from torch's
    generator; fan_sum = fan_in + fan_out, from the shape in torch's (out, in, *kernel) layout.

    Parameters
    ----------
    {torch_tensor}
    gain : float, default 1.0
        The scale, finite and >= 0.
    {drop_in_tail}
    ValueError
        `gain` negative or not finite, a fan of 0 or a tensor of fewer than 2 dimensions.

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> w = init.xavier_normal_(torch.empty(256, 256), seed=0)
    >>> w.shape
    torch.Size([256, 256])
    """
    if _is_meta(tensor):
        return _on_meta(_init.xavier_normal_, tensor, generator, seed, gain)
    with torch.no_grad():
        return _family.xavier_normal_(tensor, gain, seed=_seed(generator, seed), stream=stream)


@_docs.documented
def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0,
                    generator: torch.Generator | None = None, *, seed: int | None = None,
                    stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.xavier_uniform_, filled by fastkaiming: U(-a, a), a = gain * sqrt(6 / fan_sum).

    :func:`fastkaiming.xavier_uniform_` with torch's signature and the seed from torch's
    generator; fan_sum = fan_in + fan_out, from the shape in torch's (out, in, *kernel) layout.

    Parameters
    ----------
    {torch_tensor}
    gain : float, default 1.0
        The scale, finite and >= 0.
    {drop_in_tail}
    ValueError
        `gain` negative or not finite, a fan of 0 or a tensor of fewer than 2 dimensions.

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> w = init.xavier_uniform_(torch.empty(256, 128), seed=0)
    >>> bool(w.abs().max() <= (6 / (256 + 128)) ** 0.5)
    True
    """
    if _is_meta(tensor):
        return _on_meta(_init.xavier_uniform_, tensor, generator, seed, gain)
    with torch.no_grad():
        return _family.xavier_uniform_(tensor, gain, seed=_seed(generator, seed), stream=stream)


@_docs.documented
def trunc_normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: torch.Generator | None = None, *,
                  seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.trunc_normal_ (absolute bounds), filled by fastkaiming.

    :func:`fastkaiming.trunc_normal_` with torch's signature and the seed from torch's
    generator: inverse CDF, correct in float16 and bfloat16 too, and never outside [a, b]
    (the bounds are rounded inwards to the dtype).

    Parameters
    ----------
    {torch_tensor}
    mean : float, default 0.0
        The mean of the untruncated normal, finite.
    std : float, default 1.0
        Its standard deviation, finite and > 0.
    a : float, default -2.0
        The lower bound (absolute), finite.
    b : float, default 2.0
        The upper bound, finite and > `a`.
    {drop_in_tail}
    ValueError
        A parameter not finite, `std` <= 0, `a` >= `b`, or an interval the sampler cannot
        serve in this dtype (see :func:`fastkaiming.trunc_normal_`).

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> w = init.trunc_normal_(torch.empty(768, 768, dtype=torch.bfloat16), std=0.02, a=-0.04, b=0.04, seed=0)
    >>> bool(w.min() >= -0.04 and w.max() <= 0.04)
    True
    """
    if _is_meta(tensor):
        return _on_meta(_init.trunc_normal_, tensor, generator, seed, mean, std, a, b)
    with torch.no_grad():
        return _api.trunc_normal_(tensor, mean, std, a, b, seed=_seed(generator, seed), stream=stream)


@_docs.documented
def normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0,
            generator: torch.Generator | None = None, *, seed: int | None = None,
            stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.normal_, filled by fastkaiming: N(mean, std^2).

    :func:`fastkaiming.normal_` with torch's signature and the seed from torch's generator.

    Parameters
    ----------
    {torch_tensor}
    mean : float, default 0.0
        The mean, finite.
    std : float, default 1.0
        The standard deviation, finite and >= 0.
    {drop_in_tail}
    ValueError
        `mean` or `std` not finite or beyond the dtype's range, or `std` < 0.

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> g = torch.Generator().manual_seed(1)
    >>> w = init.normal_(torch.empty(4096), std=0.02, generator=g)
    >>> w.dtype
    torch.float32
    """
    if _is_meta(tensor):
        return _on_meta(_init.normal_, tensor, generator, seed, mean, std)
    with torch.no_grad():
        return _api.normal_(tensor, mean, std, seed=_seed(generator, seed), stream=stream)


@_docs.documented
def uniform_(tensor: torch.Tensor, a: float = 0.0, b: float = 1.0,
             generator: torch.Generator | None = None, *, seed: int | None = None,
             stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.uniform_, filled by fastkaiming: U(a, b), samples in [a, b].

    :func:`fastkaiming.uniform_` with torch's signature and the seed from torch's generator.

    Parameters
    ----------
    {torch_tensor}
    a : float, default 0.0
        The lower bound, finite.
    b : float, default 1.0
        The upper bound, finite and >= `a`.
    {drop_in_tail}
    ValueError
        `a` or `b` not finite or beyond the dtype's range, or `a` > `b`.

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> w = init.uniform_(torch.empty(1000), -0.1, 0.1, seed=0)
    >>> bool(w.min() >= -0.1 and w.max() <= 0.1)
    True
    """
    if _is_meta(tensor):
        return _on_meta(_init.uniform_, tensor, generator, seed, a, b)
    with torch.no_grad():
        return _api.uniform_(tensor, a, b, seed=_seed(generator, seed), stream=stream)


def _not_held(tensor: torch.Tensor) -> None:
    """The check of the random fills for the drop-ins that write with torch's own ops: FSDP2's
    temporary unsharded parameters are refused (_routing.refuse_fsdp_temporary)."""
    if _routing.FSDP_STATES in sys.modules and isinstance(tensor, torch.Tensor):
        _routing.refuse_fsdp_temporary(tensor)


def constant_(tensor: torch.Tensor, val: float) -> torch.Tensor:
    """torch.nn.init.constant_: every element set to `val` (torch's own fill).

    Parameters
    ----------
    tensor : torch.Tensor
        The tensor to set, in place.
    val : float
        The value.

    Returns
    -------
    torch.Tensor
        `tensor`.

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> init.constant_(torch.empty(3), 0.5)
    tensor([0.5000, 0.5000, 0.5000])
    """
    _not_held(tensor)
    return _init.constant_(tensor, val)


def ones_(tensor: torch.Tensor) -> torch.Tensor:
    """torch.nn.init.ones_: every element set to 1 (torch's own fill).

    Parameters
    ----------
    tensor : torch.Tensor
        The tensor to set, in place.

    Returns
    -------
    torch.Tensor
        `tensor`.

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> init.ones_(torch.empty(3))
    tensor([1., 1., 1.])
    """
    _not_held(tensor)
    return _init.ones_(tensor)


def zeros_(tensor: torch.Tensor) -> torch.Tensor:
    """torch.nn.init.zeros_: every element set to 0 (torch's own fill).

    Parameters
    ----------
    tensor : torch.Tensor
        The tensor to set, in place.

    Returns
    -------
    torch.Tensor
        `tensor`.

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> init.zeros_(torch.empty(3))
    tensor([0., 0., 0.])
    """
    _not_held(tensor)
    return _init.zeros_(tensor)


def eye_(tensor: torch.Tensor) -> torch.Tensor:
    """torch.nn.init.eye_: the identity matrix in a 2-D tensor (torch's own).

    Parameters
    ----------
    tensor : torch.Tensor
        The tensor to set, in place.

    Returns
    -------
    torch.Tensor
        `tensor`.

    Raises
    ------
    ValueError
        `tensor` is not 2-D (torch's message).

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> init.eye_(torch.empty(2, 3))
    tensor([[1., 0., 0.],
            [0., 1., 0.]])
    """
    _not_held(tensor)
    return _init.eye_(tensor)


def dirac_(tensor: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """torch.nn.init.dirac_: the Dirac delta in a {3, 4, 5}-D convolution weight, each group of
    output channels preserving the identity of as many input channels as it can.

    torch's checks and values; the ones are written in one indexed store, not one per channel.

    Parameters
    ----------
    tensor : torch.Tensor
        A 3-, 4- or 5-D convolution weight, set in place (a DTensor: torch's own function).
    groups : int, default 1
        The number of groups; it must divide the size of dimension 0.

    Returns
    -------
    torch.Tensor
        `tensor`.

    Raises
    ------
    ValueError
        `tensor` is not 3-, 4- or 5-D, or `groups` does not divide dimension 0 (torch's
        messages).

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> w = init.dirac_(torch.empty(4, 2, 3))
    >>> w[:, :, 1]
    tensor([[1., 0.],
            [0., 1.],
            [0., 0.],
            [0., 0.]])
    """
    dimensions = tensor.ndimension()
    if dimensions not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.size()
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    _not_held(tensor)
    if _routing.is_dtensor(tensor):  # torch's own handles the shards
        return torch.nn.init.dirac_(tensor, groups)
    if tensor.is_meta:
        return tensor
    per_group = sizes[0] // groups
    d = torch.arange(min(per_group, sizes[1]))
    out = (torch.arange(groups)[:, None] * per_group + d).reshape(-1)
    centre = tuple(torch.full_like(out, s // 2) for s in sizes[2:])
    with torch.no_grad():
        tensor.zero_()
        tensor[(out, d.repeat(groups), *centre)] = 1
    return tensor


def _no_dtensor(name: str, tensor: torch.Tensor) -> None:
    if _routing.is_dtensor(tensor):
        raise TypeError(
            f"{name} factors or permutes the whole tensor and does not fill a DTensor's shards; "
            "fill a plain tensor of the global shape and distribute it "
            "(torch.distributed.tensor.distribute_tensor)"
        )


def _float_scratch(tensor: torch.Tensor) -> np.dtype[Any]:
    """The dtype random matrices are drawn and factored in: float64 for float64, else float32."""
    return np.dtype(np.float64 if tensor.dtype == torch.float64 else np.float32)


@_docs.documented
def orthogonal_(tensor: torch.Tensor, gain: float = 1, generator: torch.Generator | None = None,
                *, seed: int | None = None, stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.orthogonal_ (Saxe et al. 2013) on a fastkaiming normal matrix.

    torch's algorithm: a (rows, numel / rows) matrix of N(0, 1) samples (fastkaiming's
    ``normal_(seed, stream)``, in float64 for a float64 tensor, else float32), transposed when
    it is wide, factored by ``torch.linalg.qr``; Q's columns multiplied by the signs of R's
    diagonal (Mezzadri 2007, so Q is Haar-distributed), transposed back, copied in and
    multiplied by `gain`. Trailing dimensions are flattened.

    Parameters
    ----------
    tensor : torch.Tensor
        A CPU or CUDA tensor of 2 or more dimensions, set in place; not a DTensor. On a meta
        tensor, or one with no elements, a no-op.
    gain : float, default 1
        The factor, finite.
    {generator}
    {torch_seed}
    {torch_stream}

    Returns
    -------
    torch.Tensor
        `tensor`.

    Raises
    ------
    ValueError
        Fewer than 2 dimensions; `gain` not finite; both `seed` and `generator`.
    TypeError
        A DTensor (fill a plain tensor of the global shape and distribute it).

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> q = init.orthogonal_(torch.empty(64, 128), seed=0)
    >>> torch.allclose(q @ q.T, torch.eye(64), atol=1e-5)
    True
    """
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    g = _checks.real("gain", gain)
    _no_dtensor("orthogonal_", tensor)
    _not_held(tensor)
    if tensor.numel() == 0 or tensor.is_meta:
        if seed is not None and generator is not None:
            raise ValueError("pass either generator= or seed=, not both")
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    flattened = torch.from_numpy(_api.normal_(np.empty((rows, cols), _float_scratch(tensor)),
                                              seed=_seed(generator, seed), stream=stream))  # fmt: skip
    if rows < cols:
        flattened = flattened.t()
    q, r = torch.linalg.qr(flattened)
    q *= torch.diag(r, 0).sign()
    if rows < cols:
        q = q.t()
    with torch.no_grad():
        tensor.copy_(q.reshape(tensor.shape))
        tensor.mul_(g)
    return tensor


@_docs.documented
def sparse_(tensor: torch.Tensor, sparsity: float, std: float = 0.01,
            generator: torch.Generator | None = None, *, seed: int | None = None,
            stream: int = 0) -> torch.Tensor:  # fmt: skip
    """torch.nn.init.sparse_ (Martens 2010): N(0, std^2) with ceil(sparsity * rows) zeros in
    every column of a 2-D tensor.

    The values are fastkaiming's ``normal_(tensor, 0, std, seed, stream)``; in column c the
    zeroed rows are the ceil(sparsity * rows) with the smallest 32-bit words
    ``random_raw(stream=stream_for(f"sparse_/{stream}"))[c * rows + r]`` (ties: the lower row),
    a uniformly random subset as torch's ``randperm`` gives, and a function of the seed.

    Parameters
    ----------
    tensor : torch.Tensor
        A 2-D tensor, set in place; not a DTensor. On a meta tensor a no-op.
    sparsity : float
        The fraction of each column set to zero, in [0, 1].
    std : float, default 0.01
        The standard deviation of the non-zero values, finite and >= 0.
    {generator}
    {torch_seed}
    {torch_stream}

    Returns
    -------
    torch.Tensor
        `tensor`.

    Raises
    ------
    ValueError
        `tensor` not 2-D; `sparsity` outside [0, 1]; `std` negative or not finite; both
        `seed` and `generator`.
    TypeError
        A DTensor.

    Examples
    --------
    >>> import torch
    >>> from fastkaiming import torch as init
    >>> w = init.sparse_(torch.empty(10, 4), sparsity=0.3, seed=0)
    >>> (w == 0).sum(dim=0)
    tensor([3, 3, 3, 3])
    """
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    s = _checks.real("sparsity", sparsity)
    if not 0 <= s <= 1:
        raise ValueError(f"sparsity must be in [0, 1] (the fraction of each column set to zero), got {s!r}")
    _no_dtensor("sparse_", tensor)
    if tensor.is_meta:
        if seed is not None and generator is not None:
            raise ValueError("pass either generator= or seed=, not both")
        return tensor
    rows, cols = tensor.shape
    num_zeros = math.ceil(s * rows)
    key = _seed(generator, seed)
    taken: list[int] = []

    def first_stream() -> int:  # resolved once, after normal_'s checks (a Generator's stream)
        taken.append(stream() if callable(stream) else _checks.stream(stream))
        return taken[0]

    with torch.no_grad():
        _api.normal_(tensor, 0.0, std, seed=key, stream=first_stream)  # type: ignore[arg-type]
        if num_zeros and cols:
            words = _api.random_raw(np.empty((cols, rows), np.uint32), seed=key,
                                    stream=stream_for(f"sparse_/{taken[0]}"))  # fmt: skip
            zero_rows = np.argsort(words, axis=1, kind="stable")[:, :num_zeros]
            columns = np.broadcast_to(np.arange(cols)[:, None], zero_rows.shape)
            tensor[torch.from_numpy(zero_rows.reshape(-1)), torch.from_numpy(columns.reshape(-1))] = 0
    return tensor
