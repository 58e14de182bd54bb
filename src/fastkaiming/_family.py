"""The variance-scaling family (Keras/JAX conventions) and torch's Xavier fills."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from . import _checks, _docs, _fans
from ._api import (
    _NORMAL,
    _TRUNC,
    _UNIFORM,
    Law,
    Params,
    _fill,
    _normal_params,
    _trunc_normal_params,
    _uniform_params,
)

T = TypeVar("T")

# Standard deviation of N(0, 1) truncated to (-2, 2) (Keras, JAX: scipy.stats.truncnorm(-2, 2))
TRUNCATED_STD = 0.87962566103423978
DISTRIBUTIONS = ("truncated_normal", "normal", "untruncated_normal", "uniform")


def _keras_fan(shape, mode, fan_in, fan_out, in_axis, out_axis):  # type: ignore[no-untyped-def]
    """Keras' fans: a scalar counts as 1 x 1, a vector of n as n x n; else compute_fans."""
    if len(shape) < 2 and (fan_in is None or fan_out is None):
        n = shape[0] if len(shape) == 1 else 1
        fan_in = n if fan_in is None else fan_in
        fan_out = n if fan_out is None else fan_out
    return _fans.fan(shape, mode, fan_in, fan_out, in_axis, out_axis)


@_docs.documented
def variance_scaling_(
    tensor: T,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    *,
    in_axis: int = -2,
    out_axis: int = -1,
    fan_in: int | None = None,
    fan_out: int | None = None,
    seed: int | None = None,
    stream: int = 0,
    offset: int = 0,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
    threads: int | None = None,
    dtype: object = None,
) -> T:
    """Keras/JAX VarianceScaling, in place: variance = scale / n, n the fan `mode` names.

    distribution "truncated_normal": N(0, std^2) cut at +-2 std, std = sqrt(variance) / 0.8796...
    (so the variance after truncation is `variance`); "normal" (or "untruncated_normal"):
    N(0, variance); "uniform": U(-limit, limit), limit = sqrt(3 variance). Fans follow Keras:
    (..., in, out) layout by default, a scalar counts as 1 x 1 and a 1-D tensor of n as n x n.

    Parameters
    ----------
    {tensor}
    scale : float, default 1.0
        The variance times the fan, finite and > 0 (2.0 for He, 1.0 for Glorot and LeCun).
    mode : {"fan_in", "fan_out", "fan_avg"}, default "fan_in"
        The fan n: fan_in, fan_out or their mean.
    distribution : {"truncated_normal", "normal", "untruncated_normal", "uniform"}, default "truncated_normal"
        The distribution; "normal" (JAX's name) and "untruncated_normal" (Keras') are the same.
    {axes_keras}
    {fans}
    {seed_stream_offset}
    {block_threads_dtype}

    {returns_raises}
    ValueError
        `scale` <= 0 or not finite; an unknown `mode` or `distribution`; a fan of 0; a
        variance that underflows to 0 or a std or bound beyond the dtype's range.

    Warns
    -----
    {warns}

    See Also
    --------
    he_normal_, glorot_uniform_, lecun_normal_ : The named variants.
    variance_scaling : The same values in a new array.

    Examples
    --------
    >>> k = np.empty((3, 3, 64, 128), np.float32)          # (*kernel, in, out)
    >>> _ = fk.variance_scaling_(k, scale=2.0, distribution="uniform", seed=0)
    >>> bool(abs(k).max() <= (3 * 2.0 / (3 * 3 * 64)) ** 0.5)
    True
    """
    s = _checks.real("scale", scale)
    if s <= 0:
        raise ValueError(f"scale must be > 0, got {s!r}")
    _checks.choice("mode", mode, _fans.MODES)
    _checks.choice("distribution", distribution, DISTRIBUTIONS)
    f_in, f_out = _fans.check_fan_args(fan_in, fan_out)
    _checks.integer("in_axis", in_axis)
    _checks.integer("out_axis", out_axis)

    def variance(shape: tuple[int, ...]) -> float:
        n = _keras_fan(shape, mode, f_in, f_out, in_axis, out_axis)
        if not s / n > 0:
            raise ValueError(f"scale={s!r} over a fan of {n:g} gives a variance that underflows to 0")
        return s / n

    if distribution == "uniform":
        dist = _UNIFORM

        def params(shape: tuple[int, ...], name: str) -> Params:
            limit = math.sqrt(3.0 * variance(shape))
            _checks.representable("the uniform limit", limit, name, f"scale={s!r}")
            return _uniform_params(-limit, limit)
    elif distribution == "truncated_normal":
        dist = _TRUNC

        def params(shape: tuple[int, ...], name: str) -> Params:
            std = math.sqrt(variance(shape)) / TRUNCATED_STD
            _checks.representable("the truncation bound", 2.0 * std, name, f"scale={s!r}")
            return _trunc_normal_params(0.0, std, -2.0 * std, 2.0 * std, name)
    else:
        dist = _NORMAL

        def params(shape: tuple[int, ...], name: str) -> Params:
            std = _checks.representable("std", math.sqrt(variance(shape)), name, f"scale={s!r}")
            return _normal_params(0.0, std)

    return _fill(tensor, dist, params, seed=seed, stream=stream, offset=offset, threads=threads,
                 dtype=dtype, global_shape=global_shape, block_start=block_start)  # fmt: skip


def _named(name: str, scale: float, mode: str, distribution: str, keras: str):  # type: ignore[no-untyped-def]
    def fill(
        tensor: T,
        *,
        in_axis: int = -2,
        out_axis: int = -1,
        fan_in: int | None = None,
        fan_out: int | None = None,
        seed: int | None = None,
        stream: int = 0,
        offset: int = 0,
        global_shape: Sequence[int] | None = None,
        block_start: Sequence[int] | None = None,
        threads: int | None = None,
        dtype: object = None,
    ) -> T:
        return variance_scaling_(tensor, scale, mode, distribution, in_axis=in_axis,
                                 out_axis=out_axis, fan_in=fan_in, fan_out=fan_out, seed=seed,
                                 stream=stream, offset=offset, threads=threads, dtype=dtype,
                                 global_shape=global_shape, block_start=block_start)  # fmt: skip

    fill.__name__ = fill.__qualname__ = name
    fill.__doc__ = _NAMED_DOC.format(name=name, keras=keras, scale=scale, mode=mode,
                                     distribution=distribution, law=_LAWS[distribution],
                                     kind=distribution.replace("_", " "))  # fmt: skip
    return _docs.documented(fill)


_LAWS = {"truncated_normal": "N(0, std^2) cut at +-2 std, std = sqrt(variance) / 0.8796... (the "
                             "variance after truncation is scale / n)",
         "uniform": "U(-limit, limit), limit = sqrt(3 scale / n)"}  # fmt: skip

# The named variants' docstring; {{...}} lines are _docs placeholders
_NAMED_DOC = """Keras {keras}, in place: {kind} samples of variance {scale} / {mode}.

This is ``variance_scaling_(tensor, scale={scale}, mode={mode!r}, distribution={distribution!r})``.

{law}, with n the {mode} of Keras' (..., in, out) layout.

Parameters
----------
{{tensor}}
{{axes_keras}}
{{fans}}
{{seed}}
{{stream}}
{{offset}}
{{global_shape}}
{{block_start}}
{{threads}}
{{dtype}}

Returns
-------
{{returns}}

Raises
------
{{raises}}
ValueError
    A fan of 0, or a std or bound beyond the dtype's range.

Warns
-----
{{warns}}

See Also
--------
variance_scaling_ : The general form.

Examples
--------
>>> k = fk.{name}(np.empty((3, 3, 64, 128), np.float32), seed=0)
>>> k.shape
(3, 3, 64, 128)
"""


he_normal_ = _named("he_normal_", 2.0, "fan_in", "truncated_normal", "HeNormal")
he_uniform_ = _named("he_uniform_", 2.0, "fan_in", "uniform", "HeUniform")
glorot_normal_ = _named("glorot_normal_", 1.0, "fan_avg", "truncated_normal", "GlorotNormal")
glorot_uniform_ = _named("glorot_uniform_", 1.0, "fan_avg", "uniform", "GlorotUniform")
lecun_normal_ = _named("lecun_normal_", 1.0, "fan_in", "truncated_normal", "LecunNormal")
lecun_uniform_ = _named("lecun_uniform_", 1.0, "fan_in", "uniform", "LecunUniform")


def _xavier_std(gain, fan_in, fan_out, in_axis, out_axis):  # type: ignore[no-untyped-def]
    g = _checks.real("gain", gain, nonnegative=True)
    f_in, f_out = _fans.check_fan_args(fan_in, fan_out)
    _checks.integer("in_axis", in_axis)
    _checks.integer("out_axis", out_axis)

    def std(shape: tuple[int, ...]) -> float:
        # torch: gain * sqrt(2 / (fan_in + fan_out)) = gain / sqrt(fan_avg)
        fan_sum = 2 * _fans.fan(shape, "fan_avg", f_in, f_out, in_axis, out_axis)
        return g * math.sqrt(2.0 / fan_sum)

    return std


@_docs.documented
def xavier_normal_(
    tensor: T,
    gain: float = 1.0,
    *,
    in_axis: int = 1,
    out_axis: int = 0,
    fan_in: int | None = None,
    fan_out: int | None = None,
    seed: int | None = None,
    stream: int = 0,
    offset: int = 0,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
    threads: int | None = None,
    dtype: object = None,
) -> T:
    """Fill `tensor` in place as torch.nn.init.xavier_normal_; return `tensor`.

    N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio 2010), fans in
    PyTorch's (out, in, *kernel) layout by default.

    Parameters
    ----------
    {tensor}
    gain : float, default 1.0
        The scale, finite and >= 0 (``calculate_gain(nonlinearity)``).
    {axes_torch}
    {fans}
    {seed_stream_offset}
    {block_threads_dtype}

    {returns_raises}
    ValueError
        `gain` negative or not finite; a fan of 0; a std beyond the dtype's range.

    Warns
    -----
    {warns}

    See Also
    --------
    xavier_uniform_, glorot_normal_

    Examples
    --------
    >>> w = fk.xavier_normal_(np.empty((512, 512), np.float32), gain=fk.calculate_gain("tanh"), seed=0)
    >>> round(float(w.std()) * 512 ** 0.5 * 3 / 5, 2)         # std = gain / sqrt(fan_avg)
    1.0
    """
    return _fill(tensor, _NORMAL, xavier_normal_law(gain, fan_in, fan_out, in_axis, out_axis),
                 seed=seed, stream=stream, offset=offset, threads=threads, dtype=dtype,
                 global_shape=global_shape, block_start=block_start)  # fmt: skip


def xavier_normal_law(gain: float = 1.0, fan_in: int | None = None, fan_out: int | None = None,
                      in_axis: int = 1, out_axis: int = 0) -> Law:  # fmt: skip
    """xavier_normal_'s parameters from the shape; the arguments checked now."""
    std = _xavier_std(gain, fan_in, fan_out, in_axis, out_axis)

    def params(shape: tuple[int, ...], name: str) -> Params:
        return _normal_params(0.0, _checks.representable("std", std(shape), name, f"gain={gain!r}"))

    return params


@_docs.documented
def xavier_uniform_(
    tensor: T,
    gain: float = 1.0,
    *,
    in_axis: int = 1,
    out_axis: int = 0,
    fan_in: int | None = None,
    fan_out: int | None = None,
    seed: int | None = None,
    stream: int = 0,
    offset: int = 0,
    global_shape: Sequence[int] | None = None,
    block_start: Sequence[int] | None = None,
    threads: int | None = None,
    dtype: object = None,
) -> T:
    """Fill `tensor` in place as torch.nn.init.xavier_uniform_; return `tensor`.

    U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio 2010), fans in
    PyTorch's (out, in, *kernel) layout by default.

    Parameters
    ----------
    {tensor}
    gain : float, default 1.0
        The scale, finite and >= 0 (``calculate_gain(nonlinearity)``).
    {axes_torch}
    {fans}
    {seed_stream_offset}
    {block_threads_dtype}

    {returns_raises}
    ValueError
        `gain` negative or not finite; a fan of 0; a bound beyond the dtype's range.

    Warns
    -----
    {warns}

    See Also
    --------
    xavier_normal_, glorot_uniform_

    Examples
    --------
    >>> w = fk.xavier_uniform_(np.empty((256, 128), np.float32), seed=0)
    >>> bool(abs(w).max() <= (6 / (256 + 128)) ** 0.5)
    True
    """
    return _fill(tensor, _UNIFORM, xavier_uniform_law(gain, fan_in, fan_out, in_axis, out_axis),
                 seed=seed, stream=stream, offset=offset, threads=threads, dtype=dtype,
                 global_shape=global_shape, block_start=block_start)  # fmt: skip


def xavier_uniform_law(gain: float = 1.0, fan_in: int | None = None, fan_out: int | None = None,
                       in_axis: int = 1, out_axis: int = 0) -> Law:  # fmt: skip
    """xavier_uniform_'s parameters from the shape; the arguments checked now."""
    std = _xavier_std(gain, fan_in, fan_out, in_axis, out_axis)

    def params(shape: tuple[int, ...], name: str) -> Params:
        bound = math.sqrt(3.0) * std(shape)
        _checks.representable("the bound", bound, name, f"gain={gain!r}")
        return _uniform_params(-bound, bound)

    return params
