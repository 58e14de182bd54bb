"""JAX and Flax: initializers in the ``jax.nn.initializers`` style, filled by fastkaiming.

``fastkaiming.jax.he_normal()`` returns ``init(key, shape, dtype=None, out_sharding=None)``,
the signature of JAX's own initializers, so it serves as Flax's ``kernel_init`` (linen and
nnx) and wherever JAX's are used. The law of every function is the one of the JAX function of
the same name (fans with in_axis/out_axis/batch_axis as JAX computes them; the truncated normal
cut at 2 standard deviations, divided by 0.87962566103423978); the samples are fastkaiming's.

The key: its uint32 data words ``w`` (``jax.random.key_data`` of a typed key, or the raw
``uint32[2]`` of ``jax.random.PRNGKey``) give ``seed = w[0] << 32 | w[1]`` and
``stream = w[2] << 32 | w[3]`` (0 for two-word keys, the default threefry ones). So
``init(jax.random.key(7), shape)`` holds the values of ``fastkaiming.<fill>(shape, seed=7)``
(seeds below 2**32, as JAX keeps them without x64). See ``seed_and_stream``.

Eagerly (a concrete key) the fill writes a 64-byte-aligned host buffer that JAX adopts without a
copy (``jax.device_put(..., may_alias=True)``); under ``jax.jit`` the key is a tracer and the
fill runs in a ``jax.pure_callback`` (XLA copies its result once); under ``jax.vmap`` the
callback gets the whole batch of keys (``vmap_method="expand_dims"``) and fills one block per
key. Both give the same bits. ``out_sharding=`` (a ``jax.sharding.Sharding``): each shard is its
own block fill (``global_shape=``, ``block_start=``), eagerly through
``jax.make_array_from_callback``, under jit through ``jax.shard_map`` (a NamedSharding; any
other sharding is filled whole and placed by XLA); the array equals the unsharded one.
Needs the ``jax`` extra (``pip install "fastkaiming[jax]"``).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _api, _checks, _constructors, _dtypes, _family

try:
    import jax
    import jax.numpy as jnp
except ImportError as exc:
    raise ImportError(f'fastkaiming.jax needs jax ({exc}): pip install "fastkaiming[jax]"') from exc

__all__ = [
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "seed_and_stream",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
]

MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")
# a fill of one block: (out, seed, stream, (global_shape, block_start) or None)
Fill = Callable[[np.ndarray, int, int, "tuple[tuple[int, ...], tuple[int, ...]] | None"], None]
# a law: the whole array's shape -> its Fill (arguments checked when the law is made)
Law = Callable[[tuple[int, ...]], Fill]
Initializer = Callable[..., jax.Array]


def seed_and_stream(key: Any) -> tuple[int, int]:
    """The fastkaiming (seed, stream) that a JAX PRNG key stands for.

    Parameters
    ----------
    key : jax.Array or numpy.ndarray
        A concrete key: a typed key (``jax.random.key``) or raw uint32 key data of shape (2,)
        (``jax.random.PRNGKey``) or (4,) (the ``rbg`` implementations).

    Returns
    -------
    seed, stream : int
        With ``w`` the key's uint32 words: ``seed = w[0] << 32 | w[1]``, ``stream = w[2] << 32 |
        w[3]`` for four words and 0 for two.

    Raises
    ------
    TypeError
        If `key` is not a key of one of those forms, or is traced (under ``jax.jit``).

    Examples
    --------
    >>> import jax
    >>> from fastkaiming.jax import seed_and_stream
    >>> seed_and_stream(jax.random.key(7))
    (7, 0)
    >>> seed_and_stream(jax.random.PRNGKey(7))
    (7, 0)
    """
    words = _key_words(key)
    if isinstance(words, jax.core.Tracer):
        raise TypeError("key is traced (under jax.jit or another transformation); pass a concrete key")
    return _seed_stream(np.asarray(words))


def _key_words(key: Any) -> Any:
    """The uint32 data of a key, concrete or traced; TypeError naming what was given."""
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    elif not isinstance(key, (jax.Array, np.ndarray)):
        raise TypeError(
            "key must be a JAX PRNG key (jax.random.key(...) or jax.random.PRNGKey(...)), "
            f"got {type(key).__name__} {_checks.shown(key)}"
        )
    if key.dtype != np.uint32 or key.shape not in ((2,), (4,)):
        raise TypeError(
            "key must be a JAX PRNG key: a typed key or uint32 key data of shape (2,) or (4,), "
            f"got a {key.dtype} array of shape {tuple(key.shape)}"
        )
    return key


def _seed_stream(words: np.ndarray) -> tuple[int, int]:
    w = [int(x) for x in words]
    return w[0] << 32 | w[1], (w[2] << 32 | w[3]) if len(w) == 4 else 0


def _dtype(dtype: object) -> str:
    """The fill's dtype name: None is JAX's default float, float64 without x64 is float32."""
    if dtype is None:
        dtype = jax.dtypes.canonicalize_dtype(np.float64)
    name = _dtypes.dtype_name(dtype, _dtypes.FLOAT_DTYPES)
    if name == "float64":
        name = np.dtype(jax.dtypes.canonicalize_dtype(np.float64)).name
    return name


def _host(fill: Fill | None, shape: tuple[int, ...], name: str, words: np.ndarray,
          block: tuple[tuple[int, ...], tuple[int, ...]] | None = None) -> np.ndarray:  # fmt: skip
    """An array of shape (*batch, *shape) for key data of shape (*batch, words): one fill per key."""
    words = np.asarray(words)
    batch = words.shape[:-1]
    out = _constructors.aligned_empty((*batch, *shape), name)
    if fill is not None and out.size:
        for index in np.ndindex(batch):
            seed, stream = _seed_stream(words[index])
            fill(out[(*index, ...)], seed, stream, block)
    return out


def _sharded(fill: Fill | None, shape: tuple[int, ...], name: str, words: np.ndarray,
             sharding: jax.sharding.Sharding) -> jax.Array:  # fmt: skip
    """Each addressable shard filled on its own, as the block of the whole array it is (once
    for the replicas of a block)."""
    filled: dict[tuple[tuple[int, int], ...], np.ndarray] = {}

    def shard(index: tuple[slice, ...] | None) -> np.ndarray:
        assert index is not None  # an index per shard: None only for a shape of no dimensions
        bounds = tuple(s.indices(n)[:2] for s, n in zip(index, shape, strict=True))
        if bounds not in filled:
            block = tuple(stop - start for start, stop in bounds)
            filled[bounds] = _host(fill, block, name, words, (shape, tuple(start for start, _ in bounds)))
        return filled[bounds]

    return jax.make_array_from_callback(shape, sharding, shard)


def _callback(fill: Fill | None, shape: tuple[int, ...], name: str, words: Any,
              block: tuple[tuple[int, ...], Any] | None) -> jax.Array:  # fmt: skip
    """The fill as a pure_callback of the traced key words (and block start, traced or None).

    Under vmap the callback gets every key at once (expand_dims: key words (*batch, W), the
    block start with leading axes of size 1) and fills one array per key.
    """
    result = jax.ShapeDtypeStruct(shape, _constructors.empty((0,), name).dtype)
    array: jax.Array
    if block is None:
        array = jax.pure_callback(lambda w: _host(fill, shape, name, w), result, words,
                                  vmap_method="expand_dims")  # fmt: skip
        return array
    whole, start = block

    def run(w: np.ndarray, at: np.ndarray) -> np.ndarray:
        first = np.asarray(at).reshape(-1)[: len(shape)]  # the same start for every key
        return _host(fill, shape, name, w, (whole, tuple(int(a) for a in first)))

    array = jax.pure_callback(run, result, words, start, vmap_method="expand_dims")
    return array


def _traced_sharded(fill: Fill | None, shape: tuple[int, ...], name: str, words: Any,
                    sharding: jax.sharding.Sharding) -> jax.Array:  # fmt: skip
    """Under jit: a NamedSharding runs one block fill per device (shard_map, each device's
    block start from its mesh coordinates); any other sharding fills the whole array on one
    device and lets XLA distribute it."""
    if not isinstance(sharding, jax.sharding.NamedSharding):
        return jax.lax.with_sharding_constraint(_callback(fill, shape, name, words, None), sharding)
    mesh = sharding.mesh
    local = sharding.shard_shape(shape)  # raises JAX's own error for a shape it does not divide
    spec = (*sharding.spec, *[None] * (len(shape) - len(sharding.spec)))
    entries = [(e,) if isinstance(e, str) else tuple(e or ()) for e in spec]

    def body(w: jax.Array) -> jax.Array:
        start = []
        for axes, size in zip(entries, local, strict=True):
            index = jnp.int32(0)
            for a in axes:  # a dimension split over several mesh axes: major to minor, as listed
                index = index * mesh.shape[a] + jax.lax.axis_index(a)
            start.append(index * size)
        at = jnp.stack(start) if start else jnp.zeros(0, jnp.int32)  # shape (): no axes
        return _callback(fill, local, name, w, (shape, at))

    array: jax.Array = jax.shard_map(body, mesh=mesh, in_specs=jax.sharding.PartitionSpec(),
                                     out_specs=sharding.spec)(words)  # fmt: skip
    return array


def _initializer(law: Law, default_dtype: object, name: str, doc: str) -> Initializer:
    """JAX's init(key, shape, dtype, out_sharding) for a law."""

    def init(key: Any, shape: Sequence[int], dtype: object = default_dtype,
             out_sharding: jax.sharding.Sharding | None = None) -> jax.Array:  # fmt: skip
        words = _key_words(key)
        if out_sharding is not None and not isinstance(out_sharding, jax.sharding.Sharding):
            raise TypeError(
                "out_sharding must be a jax.sharding.Sharding (e.g. a NamedSharding) or None, "
                f"got {type(out_sharding).__name__} {_checks.shown(out_sharding)}"
            )
        dims = _constructors.check_shape(shape)
        dtype_name = _dtype(dtype)
        fill = law(dims) if math.prod(dims) else None  # fans: only for a non-empty array
        if fill is not None:  # one element of the same array: every check now, none in the callback
            fill(_constructors.aligned_empty((1,) * len(dims), dtype_name), 0, 0, (dims, (0,) * len(dims)))
        if not isinstance(words, jax.core.Tracer):  # eager: the host buffer becomes the array
            if out_sharding is not None:
                return _sharded(fill, dims, dtype_name, np.asarray(words), out_sharding)
            return jax.device_put(_host(fill, dims, dtype_name, np.asarray(words)), may_alias=True)
        if out_sharding is not None:
            return _traced_sharded(fill, dims, dtype_name, words, out_sharding)
        return _callback(fill, dims, dtype_name, words, None)

    init.__name__ = name
    init.__qualname__ = f"{name}.<locals>.init"
    init.__doc__ = doc
    return init


def _axes(name: str, value: object) -> int | tuple[int, ...]:
    """An axis or a sequence of axes (ints), checked now."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return _checks.integer(name, value)
    return tuple(_checks.integer(name, a) for a in value)


def _size(name: str, axes: int | tuple[int, ...], shape: tuple[int, ...]) -> int:
    """The product of shape over `axes` (JAX's _compute_fans), axes checked against the shape."""
    for a in (axes,) if isinstance(axes, int) else axes:
        if not -len(shape) <= a < len(shape):
            raise ValueError(
                f"{name}={axes!r} is out of range for a shape of {len(shape)} dimensions, {shape}"
            )
    return shape[axes] if isinstance(axes, int) else math.prod(shape[a] for a in axes)


def _variance(scale: float, mode: str, in_axis: int | tuple[int, ...], out_axis: int | tuple[int, ...],
              batch_axis: int | tuple[int, ...], shape: tuple[int, ...]) -> float:  # fmt: skip
    """scale / n, n as jax.nn.initializers.variance_scaling computes it (a float receptive field)."""
    if in_axis == -2 and len(shape) <= 1:
        raise ValueError(
            f"can't compute the fans of a {len(shape)}-dimensional weights tensor with the default "
            "in_axis=-2: it must be at least 2-D, or give in_axis explicitly"
        )
    in_size = _size("in_axis", in_axis, shape)
    out_size = _size("out_axis", out_axis, shape)
    batch_size = _size("batch_axis", batch_axis, shape)
    receptive = math.prod(shape) / in_size / out_size / batch_size
    fan_in, fan_out = in_size * receptive, out_size * receptive
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
         "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]  # fmt: skip
    return scale / n


def _filler(fill: Callable[..., Any], **params: float) -> Fill:
    def run(out: np.ndarray, seed: int, stream: int,
            block: tuple[tuple[int, ...], tuple[int, ...]] | None) -> None:  # fmt: skip
        global_shape, block_start = block or (None, None)
        fill(out, **params, seed=seed, stream=stream, global_shape=global_shape, block_start=block_start)

    return run


def variance_scaling(scale: float, mode: str, distribution: str, in_axis: int | Sequence[int] = -2,
                     out_axis: int | Sequence[int] = -1, batch_axis: int | Sequence[int] = (),
                     dtype: object = None) -> Initializer:  # fmt: skip
    """``jax.nn.initializers.variance_scaling``, filled by fastkaiming.

    Variance ``scale / n``, ``n`` the fan that `mode` names; the fans as JAX computes them:
    ``fan_in = in_size * receptive``, ``fan_out = out_size * receptive``, ``receptive =
    size / in_size / out_size / batch_size``, each size the product over its axes.

    Parameters
    ----------
    scale : float
        Positive scaling factor (a 0-d array is accepted).
    mode : {"fan_in", "fan_out", "fan_avg", "fan_geo_avg"}
        The fan: inputs, outputs, their arithmetic or their geometric mean.
    distribution : {"truncated_normal", "normal", "uniform"}
        ``"truncated_normal"``: N(0, std^2) cut at +-2 std, std = sqrt(variance) /
        0.87962566103423978 (the variance after truncation is `variance`); ``"normal"``:
        N(0, variance); ``"uniform"``: U(-sqrt(3 variance), sqrt(3 variance)).
    in_axis, out_axis, batch_axis : int or sequence of int
        Axes of the inputs, the outputs and the batch (ignored); the others make the receptive
        field.
    dtype : dtype, optional
        The default dtype of `init`: float16, bfloat16, float32 or float64 (NumPy, JAX, torch
        or ml_dtypes spelling); None is JAX's default float (float64 with x64 enabled).

    Returns
    -------
    init : callable
        ``init(key, shape, dtype=dtype, out_sharding=None) -> jax.Array``. `key`: a typed or a
        raw uint32 JAX key (see ``seed_and_stream``); `out_sharding`: a ``jax.sharding.Sharding``
        or None. Works eagerly, under ``jax.jit`` (the same bits) and under ``jax.vmap`` over
        keys (each key its own values).

    Raises
    ------
    TypeError, ValueError
        At once for a bad argument here; `init` raises before any fill for a bad key, shape,
        dtype or axis (the shape's fans are computed then).

    Examples
    --------
    >>> import jax
    >>> import fastkaiming.jax as fkj
    >>> init = fkj.variance_scaling(2.0, "fan_in", "truncated_normal")
    >>> init(jax.random.key(0), (64, 32)).shape
    (64, 32)
    """
    s = _checks.real("scale", scale)
    if s <= 0:
        raise ValueError(f"scale must be > 0, got {s!r}")
    _checks.choice("mode", mode, MODES)
    _checks.choice("distribution", distribution, DISTRIBUTIONS)
    axes = (_axes("in_axis", in_axis), _axes("out_axis", out_axis), _axes("batch_axis", batch_axis))
    _dtype(dtype)

    def law(shape: tuple[int, ...]) -> Fill:
        variance = _variance(s, mode, *axes, shape)
        if distribution == "truncated_normal":
            std = math.sqrt(variance) / _family.TRUNCATED_STD
            return _filler(_api.trunc_normal_, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)
        if distribution == "normal":
            return _filler(_api.normal_, mean=0.0, std=math.sqrt(variance))
        bound = math.sqrt(3.0 * variance)
        return _filler(_api.uniform_, a=-bound, b=bound)

    return _initializer(law, dtype, "variance_scaling", variance_scaling.__doc__)  # type: ignore[arg-type]


# the Returns and Raises sections of the initializer makers but variance_scaling
_RETURNS = """Returns
    -------
    init : callable
        ``init(key, shape, dtype=dtype, out_sharding=None) -> jax.Array``, as JAX's.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, at once; `init` for a bad key, shape or dtype."""


def _fixed(make: Callable[..., Initializer], dtype: object, fill: Callable[..., Any],
           **params: float) -> Initializer:  # fmt: skip
    """The initializer of a law that does not depend on the shape: `fill` with `params`."""
    _dtype(dtype)
    run = _filler(fill, **params)
    return _initializer(lambda shape: run, dtype, make.__name__, make.__doc__ or "")


def _documented(make: Callable[..., Initializer]) -> Callable[..., Initializer]:
    make.__doc__ = make.__doc__.replace("{returns}", _RETURNS)  # type: ignore[union-attr]
    return make


def _named(name: str, scale: float, mode: str, distribution: str) -> Callable[..., Initializer]:
    def make(in_axis: int | Sequence[int] = -2, out_axis: int | Sequence[int] = -1,
             batch_axis: int | Sequence[int] = (), dtype: object = None) -> Initializer:  # fmt: skip
        return variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis, dtype)

    make.__name__ = make.__qualname__ = name
    make.__doc__ = f"""``jax.nn.initializers.{name}``, filled by fastkaiming: ``variance_scaling({scale},
    "{mode}", "{distribution}", in_axis, out_axis, batch_axis, dtype)``.

    Parameters
    ----------
    in_axis, out_axis, batch_axis : int or sequence of int
        Axes of the inputs, the outputs and the batch, as in ``variance_scaling``.
    dtype : dtype, optional
        The default dtype of `init` (float16, bfloat16, float32, float64); None: JAX's default.

    {_RETURNS}

    Examples
    --------
    >>> import jax
    >>> import flax.linen as nn
    >>> import fastkaiming.jax as fkj
    >>> layer = nn.Dense(16, kernel_init=fkj.{name}())
    >>> params = jax.jit(layer.init)(jax.random.key(0), jax.numpy.ones((1, 8)))
    >>> params["params"]["kernel"].shape
    (8, 16)
    """
    return make


he_normal = _named("he_normal", 2.0, "fan_in", "truncated_normal")
he_uniform = _named("he_uniform", 2.0, "fan_in", "uniform")
glorot_normal = _named("glorot_normal", 1.0, "fan_avg", "truncated_normal")
glorot_uniform = _named("glorot_uniform", 1.0, "fan_avg", "uniform")
lecun_normal = _named("lecun_normal", 1.0, "fan_in", "truncated_normal")
lecun_uniform = _named("lecun_uniform", 1.0, "fan_in", "uniform")
# JAX's own aliases
kaiming_normal, kaiming_uniform = he_normal, he_uniform
xavier_normal, xavier_uniform = glorot_normal, glorot_uniform


@_documented
def normal(stddev: float = 1e-2, dtype: object = None) -> Initializer:
    """``jax.nn.initializers.normal``, filled by fastkaiming: N(0, stddev^2).

    Parameters
    ----------
    stddev : float
        The standard deviation, >= 0 (a 0-d array is accepted).
    dtype : dtype, optional
        The default dtype of `init` (float16, bfloat16, float32, float64); None: JAX's default.

    {returns}

    Examples
    --------
    >>> import jax
    >>> import fastkaiming.jax as fkj
    >>> w = fkj.normal(0.02)(jax.random.key(0), (4, 4))
    >>> w.dtype
    dtype('float32')
    """
    std = _checks.real("stddev", stddev, nonnegative=True)
    return _fixed(normal, dtype, _api.normal_, mean=0.0, std=std)


@_documented
def uniform(scale: float = 1e-2, dtype: object = None) -> Initializer:
    """``jax.nn.initializers.uniform``, filled by fastkaiming: U(0, scale).

    Parameters
    ----------
    scale : float
        The upper bound (a negative one is the lower bound, as ``U(0, 1) * scale`` in JAX).
    dtype : dtype, optional
        The default dtype of `init` (float16, bfloat16, float32, float64); None: JAX's default.

    {returns}

    Examples
    --------
    >>> import jax
    >>> import fastkaiming.jax as fkj
    >>> w = fkj.uniform(0.1)(jax.random.key(0), (3, 5))
    >>> bool((w >= 0).all() and (w <= 0.1).all())
    True
    """
    s = _checks.real("scale", scale)
    return _fixed(uniform, dtype, _api.uniform_, a=min(0.0, s), b=max(0.0, s))


@_documented
def truncated_normal(stddev: float = 1e-2, dtype: object = None, lower: float = -2.0,
                     upper: float = 2.0) -> Initializer:  # fmt: skip
    """``jax.nn.initializers.truncated_normal``, filled by fastkaiming.

    N(0, stddev^2) restricted to [lower * stddev, upper * stddev] (bounds in units of stddev,
    applied before the scaling, as JAX's); no correction of the standard deviation.

    Parameters
    ----------
    stddev : float
        The standard deviation of the untruncated normal, > 0.
    dtype : dtype, optional
        The default dtype of `init` (float16, bfloat16, float32, float64); None: JAX's default.
    lower, upper : float
        The truncation bounds in standard deviations, lower < upper.

    {returns}

    Examples
    --------
    >>> import jax
    >>> import fastkaiming.jax as fkj
    >>> w = fkj.truncated_normal(1.0, lower=-1.0, upper=1.0)(jax.random.key(0), (100,))
    >>> bool((abs(w) <= 1).all())
    True
    """
    std = _checks.real("stddev", stddev)
    if std <= 0:
        raise ValueError(f"stddev must be > 0, got {std!r}")
    lo, hi = _checks.real("lower", lower), _checks.real("upper", upper)
    if not lo < hi:
        raise ValueError(f"truncated_normal expects lower < upper, got lower={lo!r}, upper={hi!r}")
    return _fixed(truncated_normal, dtype, _api.trunc_normal_, mean=0.0, std=std, a=lo * std, b=hi * std)
