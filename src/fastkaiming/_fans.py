"""Gains and fans: the policy half of He et al. (2015) and torch.nn.init."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from . import _checks

_LINEAR = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)
NONLINEARITIES = (*_LINEAR, "sigmoid", "tanh", "relu", "leaky_relu", "selu")
MODES = ("fan_in", "fan_out", "fan_avg")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ============================  =================================
    nonlinearity                  gain
    ============================  =================================
    linear, conv*d, sigmoid       1
    tanh                          5/3
    relu                          sqrt(2)
    leaky_relu                    sqrt(2 / (1 + negative_slope^2))
    selu                          3/4
    ============================  =================================

    Parameters
    ----------
    nonlinearity : str
        One of "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
        "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu",
        "selu".
    param : float or None, default None
        The negative slope of leaky_relu (0.01 when None); ignored for the others.

    Returns
    -------
    float
        The gain.

    Raises
    ------
    ValueError
        An unknown `nonlinearity` ("Unsupported nonlinearity ..."), or a `param` that is not
        a real number, with torch's messages.

    Examples
    --------
    >>> fk.calculate_gain("relu") == 2 ** 0.5
    True
    >>> fk.calculate_gain("leaky_relu", 0.2)
    1.3867504905630728
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        plain = type(param) is float or (isinstance(param, numbers.Real) and not isinstance(param, bool))
        value = param if param is None or plain else _checks.array_scalar(param, floats=True)
        if param is None:
            slope = 0.01
        elif value is not None:
            try:
                slope = float(value)  # type: ignore[arg-type]
            except OverflowError:
                raise ValueError(f"negative_slope {_checks.shown(param)} not a valid number") from None
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        if abs(slope) > 1e150:  # slope**2 would overflow: sqrt(2 / (1 + s^2)) = sqrt(2) / |s| here
            return math.sqrt(2.0) / abs(slope)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _axis(name: str, axis: object, ndim: int) -> int:
    a = _checks.integer(name, axis)
    if not -ndim <= a < ndim:
        raise ValueError(f"{name}={_checks.shown(a)} is out of range for a tensor with {ndim} dimensions")
    return a % ndim


def compute_fans(shape: Sequence[int], *, in_axis: int = 1, out_axis: int = 0) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape.

    fan_in = shape[in_axis] * receptive field, fan_out = shape[out_axis] * receptive field,
    where the receptive field is the product of all other axes. The defaults follow PyTorch,
    (out, in, *kernel); Keras and JAX use (*kernel, in, out): in_axis=-2, out_axis=-1.

    Parameters
    ----------
    shape : sequence of int
        The weight's shape, at least 2 dimensions.
    in_axis : int, default 1
        The axis of the input features (negative counts from the end).
    out_axis : int, default 0
        The axis of the output features, another axis than `in_axis`.

    Returns
    -------
    fan_in, fan_out : int
        The two fans.

    Raises
    ------
    TypeError
        A dimension or an axis that is not an int.
    ValueError
        Fewer than 2 dimensions (torch's message), an axis out of range, or the same axis
        twice.

    Examples
    --------
    >>> fk.compute_fans((64, 32, 3, 3))                       # torch Conv2d(32, 64, 3)
    (288, 576)
    >>> fk.compute_fans((3, 3, 32, 64), in_axis=-2, out_axis=-1)   # Keras Conv2D
    (288, 576)
    """
    dims = [_checks.integer("shape", d) for d in shape]
    if len(dims) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    i = _axis("in_axis", in_axis, len(dims))
    o = _axis("out_axis", out_axis, len(dims))
    if i == o:
        raise ValueError(f"in_axis and out_axis must be different axes, both are axis {i}")
    receptive = math.prod(d for k, d in enumerate(dims) if k not in (i, o))
    return dims[i] * receptive, dims[o] * receptive


def _explicit_fan(name: str, value: object) -> int | None:
    if value is None:
        return None
    fan = _checks.integer(name, value)
    if fan <= 0:
        raise ValueError(f"{name} must be a positive int, got {_checks.shown(fan)}")
    if fan >= _checks.U64:  # more than any tensor's element count; as a float it may overflow
        raise ValueError(f"{name} must be an int below 2**64, got {_checks.shown(fan)}")
    return fan


def check_fan_args(fan_in: object, fan_out: object) -> tuple[int | None, int | None]:
    return _explicit_fan("fan_in", fan_in), _explicit_fan("fan_out", fan_out)


# fan()'s values by its arguments: the fills of a model repeat a few shapes, and a small fill
# costs about as much as computing its fan (cleared when full: it never holds a wrong value)
_FANS: dict[tuple[object, ...], float] = {}
_FANS_MAX = 1024


def fan(
    shape: Sequence[int],
    mode: str,
    fan_in: int | None,
    fan_out: int | None,
    in_axis: int,
    out_axis: int,
) -> float:
    """The fan that `mode` names; explicit fans win over those computed from the shape.

    The arguments other than `shape` are checked already (fan_in, fan_out by check_fan_args,
    the axes as ints); `shape` is checked here.
    """
    key = (shape, mode, fan_in, fan_out, in_axis, out_axis)
    try:
        return _FANS[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable shape (a list): not cached
        return _fan(shape, mode, fan_in, fan_out, in_axis, out_axis)
    value = _fan(shape, mode, fan_in, fan_out, in_axis, out_axis)
    if len(_FANS) >= _FANS_MAX:
        _FANS.clear()
    _FANS[key] = value
    return value


def _fan(shape: Sequence[int], mode: str, fan_in: int | None, fan_out: int | None,
         in_axis: int, out_axis: int) -> float:  # fmt: skip
    """fan() without the cache."""
    need_in = mode in ("fan_in", "fan_avg") and fan_in is None
    need_out = mode in ("fan_out", "fan_avg") and fan_out is None
    if need_in or need_out:
        shape_in, shape_out = compute_fans(shape, in_axis=in_axis, out_axis=out_axis)
        fan_in = shape_in if fan_in is None else fan_in
        fan_out = shape_out if fan_out is None else fan_out
    if mode == "fan_in":
        value = float(fan_in)  # type: ignore[arg-type]
    elif mode == "fan_out":
        value = float(fan_out)  # type: ignore[arg-type]
    else:
        value = (fan_in + fan_out) / 2  # type: ignore[operator]
    if value <= 0:
        raise ValueError(f"{mode} is 0 for a tensor of shape {tuple(shape)}; cannot divide by it")
    return value


def kaiming_std(gain: float, fan_value: float) -> float:
    """He et al. (2015), eq. (10) generalised by the gain: std = gain / sqrt(fan).

    The standard deviation ``kaiming_normal_`` uses (``kaiming_uniform_``'s bound is sqrt(3)
    times it). No checks: the arguments are the caller's.

    Parameters
    ----------
    gain : float
        The gain, e.g. ``calculate_gain("relu")``.
    fan_value : float
        The fan, > 0 (``compute_fans(shape)[0]`` for mode "fan_in").

    Returns
    -------
    float
        ``gain / sqrt(fan_value)``.

    Examples
    --------
    >>> from fastkaiming.torch import calculate_gain, kaiming_std
    >>> kaiming_std(calculate_gain("relu"), 512.0)
    0.0625
    """
    return gain / math.sqrt(fan_value)
