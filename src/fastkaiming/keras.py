"""Keras 3 initializers on fastkaiming's fills: ``keras.layers.Dense(4096, kernel_initializer=HeNormal(0))``.

Each class takes the constructor arguments of the Keras initializer of its name, draws from the
same law (Keras' ``compute_fans`` on a ``(*kernel, in, out)`` kernel; "truncated_normal" is cut
at 2 std with std = sqrt(scale / fan) / 0.87962566103423978) and returns a tensor of the active
backend: a NumPy array filled in one pass by the C core, handed over without a copy where the
backend allows it (jax: an aligned buffer through DLPack or ``device_put``; torch:
``torch.from_numpy``; numpy: the array itself). Registered with
``keras.saving.register_keras_serializable(package="fastkaiming")``: a saved ``.keras`` model
loads without ``custom_objects`` once ``fastkaiming.keras`` is imported.

Seeds follow Keras: an int seed (or ``None``, which draws one 64-bit seed when the initializer
is made) gives the same values at every call; a ``keras.random.SeedGenerator`` gives new values
at every call and advances as Keras' own initializers advance it. Keras draws a seed pair
``[s, c]`` per call (``[seed, 0]`` for an int; a generator's state, whose ``c`` then grows by 1);
fastkaiming fills with ``seed=s, stream=c``. So ``HeNormal(seed=5)`` and the first call of
``HeNormal(seed=SeedGenerator(5))`` give the same values, as in Keras, and every value equals
``fastkaiming.he_normal(shape, dtype, seed=s, stream=c)``.
Needs the ``keras`` extra (``pip install 'fastkaiming[keras]'``).
"""
from __future__ import annotations

import math
import numbers
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _api, _checks, _constructors, _family, _fans

try:
    import keras
except ImportError as exc:
    raise ImportError(
        f'fastkaiming.keras needs keras 3 ({exc}): pip install "fastkaiming[keras]"'
    ) from exc

__all__ = [
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "LecunNormal",
    "LecunUniform",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
]

DTYPES = ("float16", "bfloat16", "float32", "float64")
MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")
_SEED_STATE = 0xFFFFFFFF  # a SeedGenerator's state holds two 32-bit words

_register = keras.saving.register_keras_serializable(package="fastkaiming")

# The docstrings' shared parameters, in place of "    {seed}" and "    {axes}"
_SEED_DOC = """    seed : int, None or keras.random.SeedGenerator
        An int in [0, 2**64) or None (a 64-bit seed drawn now): the same values at every call.
        A SeedGenerator: new values at every call (see the module's docstring for the mapping).
"""
_AXES_DOC = """    input_axes, output_axes : sequence of int or None
        As in Keras (3.15): when both are given, fan_in is the product of the sizes of
        `input_axes` and fan_out that of `output_axes` (no receptive field); else ignored.
"""


def _documented(cls: type) -> type:
    cls.__doc__ = (cls.__doc__ or "").replace("    {seed}\n", _SEED_DOC).replace("    {axes}\n", _AXES_DOC)
    return _register(cls)  # type: ignore[no-any-return]


def _real(name: str, value: object, *, nonnegative: bool = False) -> float:
    """A finite real number, also from a 0-d tensor (Keras takes scalar tensors for mean, stddev)."""
    if not isinstance(value, numbers.Real) and getattr(value, "shape", None) == ():
        try:
            value = np.asarray(value).item()
        except (TypeError, ValueError, RuntimeError):
            pass
    return _checks.real(name, value, nonnegative=nonnegative)


def _axes(name: str, axes: object) -> list[int] | None:
    """None, or a sequence of ints (as a list: what get_config gives to JSON)."""
    if axes is None:
        return None
    if isinstance(axes, (str, bytes)) or not hasattr(axes, "__iter__"):
        raise TypeError(f"{name} must be None or a sequence of ints, got {type(axes).__name__} {axes!r}")
    return [_checks.integer(name, a) for a in axes]


def _seed_source(seed: object) -> int | Any:
    """Keras' seed argument: an int key (None: one drawn now), or a keras.random.SeedGenerator."""
    if isinstance(seed, dict):  # a serialized SeedGenerator, from get_config
        seed = keras.saving.deserialize_keras_object(seed)
    if isinstance(seed, keras.random.SeedGenerator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(
            "seed must be None, an int in [0, 2**64) or a keras.random.SeedGenerator, got "
            f"{type(seed).__name__} {_checks.shown(seed)}"
        )
    return _checks.seed(seed)


def _dtype(dtype: object) -> str:
    """Keras' dtype name (None: keras.config.floatx()); one of DTYPES."""
    try:
        name = keras.backend.standardize_dtype(dtype)
    except (TypeError, ValueError):
        name = None
    if name not in DTYPES:
        raise TypeError(f"dtype must be one of {', '.join(DTYPES)} (or None for keras.config.floatx()), "
                        f"got {dtype!r}")  # fmt: skip
    if name == "float64" and keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:  # jax makes float32 of it, as for Keras' own initializers
            return "float32"
    return name


def _to_backend(array: np.ndarray) -> Any:
    """The filled array as a tensor of the active backend, sharing its memory where it can."""
    backend = keras.backend.backend()
    if backend == "numpy":
        return array
    if backend == "jax":
        import jax

        if array.dtype.name != "bfloat16" and jax.default_backend() == "cpu":
            return jax.dlpack.from_dlpack(array)  # aliases an aligned buffer
        return jax.device_put(array)  # aliases an aligned buffer on CPU; copies to an accelerator
    if backend == "torch":
        import torch

        if array.dtype.name == "bfloat16":  # torch.from_numpy knows no ml_dtypes: the bits as uint16
            tensor = torch.from_numpy(array.view(np.uint16)).view(torch.bfloat16)
        else:
            tensor = torch.from_numpy(array)
        return keras.ops.convert_to_tensor(tensor)  # moved to Keras' device if that is not the CPU
    return keras.ops.convert_to_tensor(array)  # tensorflow, openvino: the backend's own conversion


class _Initializer(keras.initializers.Initializer):
    """Keras' seed handling and the call; subclasses give `_fill(array, seed, stream)`."""

    _fill: Callable[..., np.ndarray]

    def __init__(self, seed: int | None | Any = None) -> None:
        self.seed = _seed_source(seed)
        self._init_seed = seed  # as given: get_config's value, as in Keras

    def __call__(self, shape: Sequence[int], dtype: object = None) -> Any:
        """A tensor of `shape` and `dtype` (None: keras.config.floatx()) of the active backend.

        Parameters
        ----------
        shape : sequence of int
            The tensor's shape; a kernel is laid out ``(*kernel, in, out)`` as in Keras.
        dtype : str, NumPy, torch or JAX dtype, or None
            float16, bfloat16, float32 or float64; None for ``keras.config.floatx()``.

        Returns
        -------
        tensor
            A tensor of the active Keras backend.

        Raises
        ------
        TypeError
            `dtype` not a float dtype, `shape` not a sequence of ints.
        ValueError
            A negative dimension, or a parameter out of range for the dtype (e.g. a float16
            ``RandomUniform(-1e5, 1e5)``). A call that raises draws nothing from a SeedGenerator.

        Examples
        --------
        >>> from fastkaiming.keras import HeUniform
        >>> import keras
        >>> tuple(HeUniform(seed=0)((3, 3, 16, 32), "float16").shape)
        (3, 3, 16, 32)
        """
        dims = _constructors.check_shape(shape)
        array = _constructors.aligned_empty(dims, _dtype(dtype))
        if array.size:
            if isinstance(self.seed, keras.random.SeedGenerator):
                generator = self.seed
                state = keras.ops.convert_to_numpy(generator.state.value).astype(np.int64) & _SEED_STATE
                seed = int(state[0])

                def stream() -> int:  # called once every check passed: a failed call draws nothing
                    return int(keras.ops.convert_to_numpy(generator.next())[1]) & _SEED_STATE

                self._fill(array, seed=seed, stream=stream)
            else:
                self._fill(array, seed=self.seed, stream=0)
        return _to_backend(array)

    def get_config(self) -> dict[str, Any]:
        return {"seed": keras.saving.serialize_keras_object(self._init_seed)}


@_documented
class VarianceScaling(_Initializer):
    """Keras' ``VarianceScaling`` on fastkaiming's fills: variance ``scale / n``.

    ``n`` is the fan that `mode` names, from Keras' ``compute_fans``: a kernel is
    ``(*kernel, in, out)``, fan_in = in * prod(kernel), fan_out = out * prod(kernel); a vector
    of n counts as n x n, a scalar as 1 x 1. "truncated_normal" (also spelled "normal", as in
    Keras) is N(0, std^2) cut at +-2 std, std = sqrt(scale / n) / 0.87962566103423978, so the
    variance after truncation is ``scale / n``; "untruncated_normal" is N(0, scale / n);
    "uniform" is U(-limit, limit), limit = sqrt(3 scale / n), both ends included.

    Parameters
    ----------
    scale : float
        Positive scaling factor.
    mode : {"fan_in", "fan_out", "fan_avg"}
        Which fan divides `scale`.
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}
        Case-insensitive; "normal" means "truncated_normal", as in Keras.
    {seed}
    {axes}

    Raises
    ------
    ValueError
        `scale` not > 0, or `mode` or `distribution` not one of the above; at a call, an axis
        out of range for the shape.
    TypeError
        `scale` not a real number, an axis not an int, `seed` of another type; at a call, a
        `dtype` that is not a float dtype.

    Examples
    --------
    >>> import keras
    >>> from fastkaiming.keras import VarianceScaling
    >>> init = VarianceScaling(scale=0.1, mode="fan_avg", distribution="uniform", seed=0)
    >>> layer = keras.layers.Dense(3, kernel_initializer=init)
    >>> keras.ops.convert_to_numpy(init((2, 3))).shape
    (2, 3)
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None | Any = None, input_axes: Sequence[int] | None = None,
                 output_axes: Sequence[int] | None = None) -> None:  # fmt: skip
        s = _real("scale", scale)
        if not s > 0:
            raise ValueError(f"scale must be > 0, got {s!r}")
        _checks.choice("mode", mode, MODES)
        if not isinstance(distribution, str):
            _checks.choice("distribution", distribution, DISTRIBUTIONS)
        dist = "truncated_normal" if distribution.lower() == "normal" else distribution.lower()
        _checks.choice("distribution", dist, DISTRIBUTIONS)
        self.scale = s
        self.mode = mode
        self.distribution = dist
        self.input_axes = _axes("input_axes", input_axes)
        self.output_axes = _axes("output_axes", output_axes)
        super().__init__(seed=seed)

    def _fill(self, array: np.ndarray, **key: Any) -> np.ndarray:
        fans: dict[str, int] = {}
        if self.input_axes is not None and self.output_axes is not None:  # Keras: both, or neither
            ndim = array.ndim
            fans["fan_in"] = math.prod(array.shape[_fans._axis("input_axes", a, ndim)] for a in self.input_axes)
            fans["fan_out"] = math.prod(array.shape[_fans._axis("output_axes", a, ndim)] for a in self.output_axes)
        return _family.variance_scaling_(array, self.scale, self.mode, self.distribution, **fans, **key)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}  # fmt: skip


def _named(name: str, scale: float, mode: str, distribution: str, law: str) -> type:
    """Keras' VarianceScaling subclass `name`: `seed` and the axes are its arguments."""

    def __init__(self: VarianceScaling, seed: int | None | Any = None, input_axes: Sequence[int] | None = None,
                 output_axes: Sequence[int] | None = None) -> None:  # fmt: skip
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self: VarianceScaling) -> dict[str, Any]:
        return {**_Initializer.get_config(self), "input_axes": self.input_axes, "output_axes": self.output_axes}

    doc = f"""Keras' ``{name}`` on fastkaiming's fills: {law}.

    ``VarianceScaling(scale={scale}, mode="{mode}", distribution="{distribution}")``, fans as
    Keras' ``compute_fans`` (a kernel is ``(*kernel, in, out)``).

    Parameters
    ----------
{_SEED_DOC}{_AXES_DOC}
    Raises
    ------
    TypeError
        `seed` of another type, an axis not an int; at a call, a `dtype` that is not a float
        dtype.
    ValueError
        At a call, an axis out of range for the shape.

    Examples
    --------
    >>> import keras
    >>> from fastkaiming.keras import {name}
    >>> layer = keras.layers.Dense(3, kernel_initializer={name}(seed=0))
    >>> layer.build((None, 4))
    >>> tuple(layer.kernel.shape)
    (4, 3)
    """
    cls = type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                          "__doc__": doc, "__module__": __name__})  # fmt: skip
    cls.__qualname__ = name
    return _register(cls)  # type: ignore[no-any-return]


HeNormal = _named("HeNormal", 2.0, "fan_in", "truncated_normal",
                  "N(0, std^2) cut at +-2 std, std = sqrt(2 / fan_in) / 0.8796")  # fmt: skip
HeUniform = _named("HeUniform", 2.0, "fan_in", "uniform", "U(-limit, limit), limit = sqrt(6 / fan_in)")
GlorotNormal = _named("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                      "N(0, std^2) cut at +-2 std, std = sqrt(2 / (fan_in + fan_out)) / 0.8796")  # fmt: skip
GlorotUniform = _named("GlorotUniform", 1.0, "fan_avg", "uniform",
                       "U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))")  # fmt: skip
LecunNormal = _named("LecunNormal", 1.0, "fan_in", "truncated_normal",
                     "N(0, std^2) cut at +-2 std, std = sqrt(1 / fan_in) / 0.8796")  # fmt: skip
LecunUniform = _named("LecunUniform", 1.0, "fan_in", "uniform", "U(-limit, limit), limit = sqrt(3 / fan_in)")


class _MeanStddev(_Initializer):
    """`mean` and `stddev` (>= 0), checked and kept as floats for get_config."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None | Any = None) -> None:
        self.mean = _real("mean", mean)
        self.stddev = _real("stddev", stddev, nonnegative=True)
        super().__init__(seed=seed)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


@_documented
class RandomNormal(_MeanStddev):
    """Keras' ``RandomNormal`` on fastkaiming's fills: N(mean, stddev^2).

    Parameters
    ----------
    mean : float or 0-d tensor
        The mean.
    stddev : float or 0-d tensor
        The standard deviation, >= 0.
    {seed}

    Raises
    ------
    ValueError
        `mean` or `stddev` not finite, `stddev` < 0.
    TypeError
        `mean` or `stddev` not a real number, `seed` of another type; at a call, a `dtype` that
        is not a float dtype.

    Examples
    --------
    >>> import keras
    >>> from fastkaiming.keras import RandomNormal
    >>> layer = keras.layers.Embedding(100, 8, embeddings_initializer=RandomNormal(stddev=0.02, seed=0))
    >>> layer.build()
    >>> tuple(layer.embeddings.shape)
    (100, 8)
    """

    def _fill(self, array: np.ndarray, **key: Any) -> np.ndarray:
        return _api.normal_(array, self.mean, self.stddev, **key)


@_documented
class TruncatedNormal(_MeanStddev):
    """Keras' ``TruncatedNormal`` on fastkaiming's fills: N(mean, stddev^2) cut at mean +- 2 stddev.

    Keras redraws values beyond 2 standard deviations; fastkaiming samples the same law by
    inverse CDF (one random word per sample, no rejection), never outside the interval.

    Parameters
    ----------
    mean : float or 0-d tensor
        The mean.
    stddev : float or 0-d tensor
        The standard deviation before truncation, > 0.
    {seed}

    Raises
    ------
    ValueError
        `mean` or `stddev` not finite, `stddev` < 0 or 0, mean +- 2 stddev beyond float64.
    TypeError
        `mean` or `stddev` not a real number, `seed` of another type; at a call, a `dtype` that
        is not a float dtype.

    Examples
    --------
    >>> import keras
    >>> from fastkaiming.keras import TruncatedNormal
    >>> layer = keras.layers.Conv2D(16, 3, kernel_initializer=TruncatedNormal(stddev=0.02, seed=0))
    >>> layer.build((None, 32, 32, 3))
    >>> tuple(layer.kernel.shape)
    (3, 3, 3, 16)
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None | Any = None) -> None:
        super().__init__(mean, stddev, seed)
        if not self.stddev > 0:
            raise ValueError(f"stddev must be > 0, got {self.stddev!r}")
        if not math.isfinite(abs(self.mean) + 2 * self.stddev):
            raise ValueError(f"mean={self.mean!r} +- 2 stddev (stddev={self.stddev!r}) is beyond float64")

    def _fill(self, array: np.ndarray, **key: Any) -> np.ndarray:
        a, b = self.mean - 2 * self.stddev, self.mean + 2 * self.stddev
        return _api.trunc_normal_(array, self.mean, self.stddev, a, b, **key)


@_documented
class RandomUniform(_Initializer):
    """Keras' ``RandomUniform`` on fastkaiming's fills: U(minval, maxval).

    Keras excludes `maxval`; fastkaiming's uniform fill may return it (rounded to the dtype, as
    Keras' own samples may be after rounding to a 16-bit dtype).

    Parameters
    ----------
    minval : float or 0-d tensor
        The lower bound.
    maxval : float or 0-d tensor
        The upper bound, >= `minval`.
    {seed}

    Raises
    ------
    ValueError
        `minval` or `maxval` not finite, `minval` > `maxval`.
    TypeError
        `minval` or `maxval` not a real number, `seed` of another type; at a call, a `dtype`
        that is not a float dtype.

    Examples
    --------
    >>> from fastkaiming.keras import RandomUniform
    >>> import keras
    >>> values = keras.ops.convert_to_numpy(RandomUniform(-1.0, 1.0, seed=0)((2, 2)))
    >>> bool((abs(values) <= 1).all())
    True
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None | Any = None) -> None:
        self.minval = _real("minval", minval)
        self.maxval = _real("maxval", maxval)
        if self.minval > self.maxval:
            raise ValueError(f"minval must be <= maxval, got minval={self.minval!r}, maxval={self.maxval!r}")
        super().__init__(seed=seed)

    def _fill(self, array: np.ndarray, **key: Any) -> np.ndarray:
        return _api.uniform_(array, self.minval, self.maxval, **key)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}
