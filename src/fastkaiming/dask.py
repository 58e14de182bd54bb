"""Lazy, distributed initialization with Dask: ``fastkaiming.dask.kaiming_normal(shape, ...)``.

Each initializer returns a ``dask.array.Array``; every chunk is a block fill (global_shape /
block_start) run on the worker that computes it, so the result equals the in-memory fill of the
whole array for any chunking and any number of workers, and never exists whole in one place:
``.to_zarr(...)`` or ``da.store(...)`` writes arrays larger than any one machine.
Needs the ``dask`` extra (``pip install 'fastkaiming[dask]'``).
"""
from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _constructors, _docs

try:
    import dask.array as da
    from dask.base import tokenize
except ImportError as exc:
    raise ImportError(
        f'fastkaiming.dask needs dask[array] ({exc}): pip install "fastkaiming[dask]"'
    ) from exc

__all__ = list(_constructors.NAMES)


def _lazy(name: str) -> Callable[..., da.Array]:
    fill = getattr(_constructors, name).__wrapped__

    def make(shape: int | Sequence[int], chunks: Any = "auto", dtype: object = "float32", *,
             seed: int | None = None, threads: int = 1, **kwargs: Any) -> da.Array:  # fmt: skip
        dims = _constructors.check_shape(shape)
        probe = _constructors.empty((0,) * len(dims), dtype)  # checks dtype (bfloat16: ml_dtypes)
        key = secrets.randbits(64) if seed is None else seed  # one seed for every worker
        stream = kwargs.pop("stream", 0)
        if all(dims):  # check every argument now, on a one-element block, not on the workers
            fill(_constructors.empty((1,) * len(dims), dtype), seed=key, threads=1, global_shape=dims,
                 stream=0 if callable(stream) else stream, **kwargs)  # fmt: skip
        if callable(stream):  # a Generator's next stream: taken once, for every chunk
            stream = stream()
        kwargs["stream"] = stream
        normalized = da.core.normalize_chunks(chunks, dims, dtype=probe.dtype)

        def block(block_info: dict[Any, Any] | None = None) -> np.ndarray:
            where = block_info[None]["array-location"]  # type: ignore[index]
            out = _constructors.empty(tuple(b - a for a, b in where), dtype)
            if out.size:
                fill(out, seed=key, threads=threads, global_shape=dims,
                     block_start=[a for a, _ in where], **kwargs)  # fmt: skip
            return out

        token = tokenize(name, dims, normalized, str(probe.dtype), key, threads, sorted(kwargs.items()))
        return da.map_blocks(block, chunks=normalized, dtype=probe.dtype, meta=probe,
                             name=f"fastkaiming-{name}-{token}")  # fmt: skip

    make.__name__ = make.__qualname__ = name
    make.__signature__ = _signature(fill)  # type: ignore[attr-defined]
    if fill.__doc__ is not None:  # (python -OO)
        make.__doc__ = _docs.constructor_doc(
            fill,
            f"A lazy dask array of `shape`, filled chunk by chunk as by :func:`fastkaiming.{name}`.\n\n"
            "Each chunk is a block fill of the whole array, run on the worker that computes it: the "
            "values equal the in-memory fill for any `chunks` and any number of workers, and the "
            "array never exists whole in one place (``.to_zarr(...)`` or ``da.store(...)`` writes "
            "arrays larger than any one machine).",
            f"""
            >>> import fastkaiming.dask
            >>> x = fastkaiming.dask.{name}((1000, 300), chunks=(250, 100), seed=0)
            >>> bool((x.compute() == fk.{name}((1000, 300), seed=0)).all())
            True
            """,
            _docs.LAZY_FRAGMENTS,
        )
    return make


def _signature(fill: Callable[..., Any]) -> inspect.Signature:
    """(shape, chunks="auto", dtype="float32", *, the fill's other parameters, threads=1)."""
    P = inspect.Parameter
    whole = _constructors.signature(fill, drop=("global_shape", "block_start"))
    shape, dtype, *rest = whole.parameters.values()
    chunks = P("chunks", P.POSITIONAL_OR_KEYWORD, default="auto", annotation="Any")
    keywords = [p.replace(kind=P.KEYWORD_ONLY) for p in rest]
    keywords = [p.replace(default=1) if p.name == "threads" else p for p in keywords]
    return whole.replace(parameters=[shape, chunks, dtype, *keywords], return_annotation="da.Array")


for _name in _constructors.NAMES:
    globals()[_name] = _lazy(_name)
del _name
