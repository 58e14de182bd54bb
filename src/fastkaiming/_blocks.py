"""Blocks of a larger tensor: where a shard's elements sit in the whole tensor's sample stream."""
from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import NamedTuple

from . import _checks


class Layout(NamedTuple):
    shape: tuple[int, ...]  # the shape fans come from: the whole tensor's
    index_strides: tuple[int, ...] | None  # per axis, the step in sample index; None: C order
    base: int  # sample index of the buffer's first element, before `offset`
    total: int  # elements of the whole tensor: all must fit in the stream


def _ints(name: str, values: object) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"{name} must be a sequence of ints, got {type(values).__name__} {_checks.shown(values)}"
        )
    return tuple(_checks.integer(name, v) for v in values)  # type: ignore[attr-defined]


def layout(shape: tuple[int, ...], global_shape: Sequence[int] | None,
           block_start: Sequence[int] | None) -> Layout:  # fmt: skip
    """Check global_shape= and block_start= against the buffer's shape."""
    if global_shape is None:
        if block_start is not None:
            raise ValueError("block_start= needs global_shape= (the shape of the whole tensor)")
        return Layout(shape, None, 0, math.prod(shape))
    whole = _ints("global_shape", global_shape)
    if any(g < 0 for g in whole):
        raise ValueError(f"global_shape must not have negative dimensions, got {_checks.shown_ints(whole)}")
    if len(whole) != len(shape):
        raise ValueError(
            f"global_shape has {len(whole)} dimensions but the tensor (the block) has {len(shape)}"
        )
    start = (0,) * len(shape) if block_start is None else _ints("block_start", block_start)
    if len(start) != len(shape):
        raise ValueError(f"block_start has {len(start)} entries but the tensor has {len(shape)} dimensions")
    for axis, (s, n, g) in enumerate(zip(start, shape, whole, strict=True)):
        if s < 0 or s + n > g:
            raise ValueError(
                f"the block covers [{_checks.shown(s)}, {_checks.shown(s + n)}) on axis {axis}, "
                f"outside global_shape[{axis}] = {_checks.shown(g)}"
            )
    count = math.prod(whole)
    if count > 1 << 62:
        raise ValueError(f"global_shape {_checks.shown_ints(whole)} has more than 2**62 elements")
    steps = [1] * len(whole)
    for axis in range(len(whole) - 2, -1, -1):
        steps[axis] = steps[axis + 1] * whole[axis + 1]
    base = sum(s * step for s, step in zip(start, steps, strict=True))
    return Layout(whole, tuple(steps), base, count)


# BLAKE2b with an 8-byte digest and nothing hashed yet: copied, it is a third cheaper than a new one
_BLAKE2B_8 = hashlib.blake2b(digest_size=8)


def stream_for(name: str) -> int:
    """The stream of a named tensor: the first 8 bytes of BLAKE2b(name), little-endian.

    The stream ``init_module_`` and ``init_safetensors`` give each tensor, from its qualified
    name: the same in every process and whatever the order of the fills. The digest is
    BLAKE2b with an 8-byte digest size of the UTF-8 name, no key.

    Parameters
    ----------
    name : str
        The tensor's name, e.g. a parameter's qualified name ``"layers.0.attn.q_proj.weight"``.

    Returns
    -------
    int
        A stream in ``[0, 2**64)``.

    Raises
    ------
    AttributeError
        `name` is not a str (it has no ``encode``).

    Examples
    --------
    >>> from fastkaiming.torch import stream_for
    >>> s = stream_for("0.weight")
    >>> import hashlib
    >>> s == int.from_bytes(hashlib.blake2b(b"0.weight", digest_size=8).digest(), "little")
    True
    """
    h = _BLAKE2B_8.copy()
    h.update(name.encode("utf-8"))
    return int.from_bytes(h.digest(), "little")
