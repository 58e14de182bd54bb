"""Out-of-core initialization: .npy tensors and .safetensors models larger than memory.

Each file is written through a memory map, chunk by chunk with block fills, so memory use is
bounded by the chunk size; finished pages are synced and dropped from the mapping. The file
appears under its name only when complete: it is written under a temporary name in the same
folder and renamed at the end; an error or Ctrl-C removes the temporary file.
"""
from __future__ import annotations

import contextlib
import json
import math
import mmap
import os
import struct
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _constructors
from ._blocks import stream_for
from ._buffers import FLOAT_DTYPES, ITEMSIZE

DEFAULT_CHUNK = 64 << 20
# constructor name -> the in-place fill (every fastkaiming initializer)
INITS = {name: getattr(_constructors, name).__wrapped__ for name in _constructors.NAMES}
_SAFETENSORS_DTYPES = {"float16": "F16", "bfloat16": "BF16", "float32": "F32", "float64": "F64"}


def _progress(total: int, quiet: bool | None, desc: str) -> Any:
    """A tqdm bar of bytes written; silent when not on a terminal or when quiet."""
    from tqdm.auto import tqdm

    disable = quiet if quiet is not None else not sys.stderr.isatty()
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                disable=disable, dynamic_ncols=True)  # fmt: skip


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path next to `path`, renamed to it on success, removed otherwise."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _fill_rows(view: np.ndarray, whole: tuple[int, ...], init: Callable[..., Any], kwargs: dict[str, Any],
               chunk: int, mm: mmap.mmap, bar: Any) -> None:  # fmt: skip
    """Fill `view` (the whole tensor, file-backed) a block of rows at a time."""
    if view.ndim == 0 or view.size == 0:
        if view.size:
            init(view, **kwargs)
        bar.update(view.nbytes)
        return
    row_bytes = view.nbytes // view.shape[0] if view.shape[0] else 0
    rows = max(1, chunk // max(1, row_bytes))
    for r0 in range(0, view.shape[0], rows):
        block = view[r0 : r0 + rows]
        init(block, global_shape=whole, block_start=(r0,) + (0,) * (view.ndim - 1), **kwargs)
        written = block.nbytes
        del block
        mm.flush()
        mm.madvise(mmap.MADV_DONTNEED)  # written back: drop the pages from this process
        bar.update(written)


def _as_array(mm: mmap.mmap, offset: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """A view of the mapping: bfloat16 as uint16, as the fills take it."""
    np_dtype = np.uint16 if dtype == "bfloat16" else np.dtype(dtype)
    count = math.prod(shape)
    return np.frombuffer(mm, dtype=np_dtype, count=count, offset=offset).reshape(shape)


def init_file(
    path: str | os.PathLike[str],
    shape: Sequence[int] | None = None,
    *,
    spec: Mapping[str, Mapping[str, Any]] | None = None,
    init: str = "kaiming_normal",
    dtype: str = "float32",
    seed: int,
    stream: int = 0,
    chunk_bytes: int = DEFAULT_CHUNK,
    quiet: bool | None = None,
    **init_kwargs: Any,
) -> Path:
    """Write an initialized tensor file larger than memory, in chunks of about `chunk_bytes`.

    `.npy`: one tensor of `shape` and `dtype` filled by `init` (a fastkaiming initializer name:
    "kaiming_normal", "trunc_normal", "he_normal", ...; extra keywords such as nonlinearity=,
    mode=, std= go to it); the values equal an in-memory fill with the same seed and stream.
    `.safetensors`: a whole model from `spec` (see init_safetensors). A progress bar shows bytes
    written, rate and time left on a terminal (quiet=True: never).
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        if spec is None or shape is not None:
            raise ValueError("a .safetensors file takes spec= (the tensors), not shape=")
        return init_safetensors(path, spec, seed=seed, chunk_bytes=chunk_bytes, quiet=quiet)
    if path.suffix != ".npy":
        raise ValueError(f"path must end in .npy or .safetensors, got {path.name!r}")
    if shape is None or spec is not None:
        raise ValueError("a .npy file takes shape= (one tensor), not spec=")
    dims = _constructors.check_shape(shape)
    name = _check_init(init)
    if dtype not in FLOAT_DTYPES or dtype == "bfloat16":
        raise ValueError(f"dtype must be one of float16, float32, float64 for .npy files, got {dtype!r}")
    _check_chunk(chunk_bytes)
    header = _npy_header(dims, dtype)
    nbytes = math.prod(dims) * ITEMSIZE[dtype]
    with _atomic(path) as tmp, open(tmp, "wb+") as f:
        f.write(header)
        f.truncate(len(header) + nbytes)
        with _mapping(f, len(header) + nbytes) as mm, _progress(nbytes, quiet, path.name) as bar:
            view = _as_array(mm, len(header), dims, dtype)
            _fill_rows(view, dims, INITS[name], {"seed": seed, "stream": stream, **init_kwargs},
                       chunk_bytes, mm, bar)  # fmt: skip
            del view
    return path


def init_safetensors(
    path: str | os.PathLike[str],
    spec: Mapping[str, Mapping[str, Any]],
    *,
    seed: int,
    chunk_bytes: int = DEFAULT_CHUNK,
    quiet: bool | None = None,
) -> Path:
    """Write a .safetensors file with every tensor of `spec`, each on stream stream_for(name).

    spec: {name: {"shape": [...], "dtype": "float32", "init": "kaiming_normal", **kwargs}}
    (dtype float16, bfloat16, float32 or float64; kwargs go to the initializer). Loading the
    file gives, for each name, the in-memory fill with (seed, stream_for(name)).
    """
    path = Path(path)
    _check_chunk(chunk_bytes)
    plan, offset = [], 0
    header: dict[str, Any] = {"__metadata__": {"format": "pt", "generator": "fastkaiming",
                                                "seed": str(seed)}}  # fmt: skip
    for name, entry in spec.items():
        if not isinstance(entry, Mapping):
            raise TypeError(f"spec[{name!r}] must be a mapping with shape, dtype and init")
        entry = dict(entry)
        dims = _constructors.check_shape(entry.pop("shape"))
        dtype = entry.pop("dtype", "float32")
        if dtype not in _SAFETENSORS_DTYPES:
            choices = ", ".join(_SAFETENSORS_DTYPES)
            raise ValueError(f"spec[{name!r}]: dtype must be one of {choices}, got {dtype!r}")
        init = _check_init(entry.pop("init", "kaiming_normal"))
        size = math.prod(dims) * ITEMSIZE[dtype]
        header[name] = {"dtype": _SAFETENSORS_DTYPES[dtype], "shape": list(dims),
                        "data_offsets": [offset, offset + size]}  # fmt: skip
        plan.append((name, dims, dtype, init, entry, offset))
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    start = 8 + len(text)
    with _atomic(path) as tmp, open(tmp, "wb+") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(start + offset)
        with _mapping(f, start + offset) as mm, _progress(offset, quiet, path.name) as bar:
            for name, dims, dtype, init, kwargs, begin in plan:
                view = _as_array(mm, start + begin, dims, dtype)
                if dtype == "bfloat16":
                    kwargs = {**kwargs, "dtype": "bfloat16"}  # the view holds the bits as uint16
                _fill_rows(view, dims, INITS[init], {"seed": seed, "stream": stream_for(name), **kwargs},
                           chunk_bytes, mm, bar)  # fmt: skip
                del view
    return path


@contextlib.contextmanager
def _mapping(f: Any, size: int) -> Iterator[mmap.mmap]:
    if size == 0:  # mmap cannot map an empty file
        yield mmap.mmap(-1, 1)
        return
    mm = mmap.mmap(f.fileno(), size)
    try:
        yield mm
        mm.flush()
    finally:
        with contextlib.suppress(BufferError):  # a view still alive (an exception's frames)
            mm.close()


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    """The .npy header (format 1.0, or 2.0 for very long headers) for a C-order array."""
    import io

    info = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
            "shape": shape}  # fmt: skip
    buf = io.BytesIO()
    try:
        np.lib.format.write_array_header_1_0(buf, info)
    except ValueError:  # header longer than 64 KiB
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, info)
    return buf.getvalue()


def _check_init(name: object) -> str:
    if not isinstance(name, str) or name not in INITS:
        raise ValueError(f"init must be one of {', '.join(sorted(INITS))}, got {name!r}")
    return name


def _check_chunk(chunk_bytes: object) -> None:
    if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be a positive int, got {chunk_bytes!r}")
