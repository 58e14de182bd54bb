"""The core's one way to a framework adapter: which adapter, if any, takes an object.

A registry keyed by the object's exact type, filled the first time an object of a framework is
seen. Lazy and import-free: an object is a torch tensor only if torch is already in sys.modules,
and only then is the adapter (fastkaiming.torch) imported. No other core module names an adapter.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

# A checked tensor's memory: (dtype name, address, shape, strides in items)
Memory = tuple[str, int, tuple[int, ...], tuple[int, ...]]


class Adapter(NamedTuple):
    """What the core asks of a framework adapter about one of its tensors."""

    # True for a tensor the adapter fills block by block (DTensor, device memory)
    routed: Callable[[Any], bool]
    # fill(tensor, fill_block, dist, params, **_api._fill's keywords): fill_block is _api._fill
    fill: Callable[..., Any]
    # memory(tensor, dtype, supported): every check, then where its host memory is. Writes nothing.
    memory: Callable[[Any, object, tuple[str, ...]], Memory]
    # written(tensor): the function to call after writing it (torch's version counter)
    written: Callable[[Any], Callable[[], None]]


# exact type -> its adapter: a plain torch tensor costs one dict lookup
BY_TYPE: dict[type, Adapter] = {}
_torch: Adapter | None = None


def find(obj: object) -> Adapter | None:
    """The adapter of a framework tensor, None for any other object. Imports no framework."""
    found = BY_TYPE.get(type(obj))
    if found is not None:
        return found
    if isinstance(obj, getattr(sys.modules.get("torch"), "Tensor", ())):  # torch is imported
        return _torch or _load_torch()
    return None


def _load_torch() -> Adapter:
    global _torch
    from .torch import _intake, _routing

    _torch = Adapter(_routing.routed, _routing.fill, _intake.memory, _intake.written)
    BY_TYPE.update(dict.fromkeys(_intake.PLAIN, _torch))
    return _torch
