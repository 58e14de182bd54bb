"""Out-of-core initialization: .npy tensors and .safetensors models larger than memory.

Everything is checked before the first byte is written: every tensor's shape, dtype,
initializer and arguments (by a one-element fill of the same global tensor), then the free
space. The file is written under a temporary name in the same folder, its whole size reserved
(os.posix_fallocate, else by writing zeros) so that a full disk is an OSError, never a SIGBUS
from a memory-mapped write; then filled chunk by chunk, each chunk its own short-lived memory
map, unmapped once written, so memory use is bounded by the chunk size on every platform. The
file is fsynced, renamed to its name and the folder fsynced; an error, Ctrl-C, SIGTERM or
SIGHUP removes the temporary file. An existing file's permission bits are kept; a symbolic link
is written through (the file it points to is replaced, in that file's folder).
"""
from __future__ import annotations

import contextlib
import errno
import inspect
import itertools
import json
import math
import mmap
import os
import shutil
import signal
import stat
import struct
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import _checks, _constructors, _docs
from ._blocks import stream_for
from ._dtypes import ITEMSIZE
from ._version import __version__

DEFAULT_CHUNK = 64 << 20
MAX_ELEMENTS = 1 << 62  # the most a fill's sample stream addresses


def _constant_word(value: float, dtype: str) -> np.ndarray:
    """`value` in `dtype`, 0-d (bfloat16: its bits, rounded to nearest even from float32)."""
    with np.errstate(over="ignore"):  # an overflow is the error below
        rounded = np.array(value, np.float32 if dtype == "bfloat16" else dtype)
    word = rounded
    if dtype == "bfloat16":
        bits = int(rounded.view(np.uint32))
        word = np.array((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16, np.uint16)
    if not math.isfinite(rounded) or (dtype == "bfloat16" and int(word) & 0x7F80 == 0x7F80):
        raise ValueError(f"value {value!r} is beyond the range of {dtype}")
    return word


def constant(tensor: np.ndarray, value: float, *, global_shape: object = None, block_start: object = None,
             dtype: str = "float32") -> np.ndarray:  # fmt: skip
    """Every element `value` (a finite real that `dtype` holds); no seed, no stream."""
    tensor[...] = _constant_word(_checks.real("value", value), dtype)
    return tensor


def zeros(tensor: np.ndarray, *, global_shape: object = None, block_start: object = None,
          dtype: str = "float32") -> np.ndarray:  # fmt: skip
    """Every element 0 (biases); no seed, no stream."""
    return constant(tensor, 0.0, dtype=dtype)


def ones(tensor: np.ndarray, *, global_shape: object = None, block_start: object = None,
         dtype: str = "float32") -> np.ndarray:  # fmt: skip
    """Every element 1 (norm weights); no seed, no stream."""
    return constant(tensor, 1.0, dtype=dtype)


# the inits that take no seed and no stream: a model's full state dict (norms, biases) in one file
CONSTANT_INITS = {"zeros": zeros, "ones": ones, "constant": constant}
# init name -> the in-place fill (every fastkaiming initializer, and the constant ones)
INITS = {**{name: getattr(_constructors, name).__wrapped__ for name in _constructors.NAMES}, **CONSTANT_INITS}
NPY_DTYPES = ("float16", "float32", "float64")  # .npy has no bfloat16
_SAFETENSORS_DTYPES = {"float16": "F16", "bfloat16": "BF16", "float32": "F32", "float64": "F64"}
# set by the writer for each chunk (and `tensor`, the buffer itself)
_WRITER_ARGS = ("tensor", "global_shape", "block_start")
# each initializer's arguments, as a spec entry or --param may give them
ARGUMENTS = {name: tuple(p for p in inspect.signature(fill).parameters if p not in (*_WRITER_ARGS, "dtype"))
             for name, fill in INITS.items()}  # fmt: skip
# posix_fallocate's answers for "not on this filesystem": reserve by writing zeros instead
_NO_FALLOCATE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


# what `timeout`, Slurm, Kubernetes and a closed terminal send: handled like Ctrl-C while writing
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP stopped a file write; the temporary file is removed.

    `replaced` is True when the signal came after the file had been renamed into place (while the
    folder was synced): the file is then complete and new, though the rename may not yet survive
    a power loss. A KeyboardInterrupt, so code that catches Ctrl-C catches it too.
    """

    def __init__(self, signum: int, path: object = None, replaced: bool = False) -> None:
        super().__init__(signum, path, replaced)
        self.signum, self.path, self.replaced = signum, path, replaced

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        if self.replaced:
            return (f"interrupted by {name} while syncing the folder: {self.path} was written and "
                    "replaced (complete), but the rename may not survive a power loss")  # fmt: skip
        return f"interrupted by {name}: {self.path} was not written (nor changed)"


@contextlib.contextmanager
def stop_signals_raise(*, redeliver: bool) -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into Interrupted (as Ctrl-C is a KeyboardInterrupt) for a write.

    Only in the main thread and only for signals whose handler is the default (the process
    would die without cleaning up); a program's own handlers are left alone. The first signal
    raises, later ones are ignored while the cleanup runs. redeliver=True: once the exception
    has left the block (the temporary file removed), the default handler is restored and the
    signal sent again, so the process ends as that signal would have ended it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if not fired:
            fired.append(signum)
            raise Interrupted(signum)

    installed = [s for s in STOP_SIGNALS if signal.getsignal(s) == signal.SIG_DFL]
    for s in installed:
        signal.signal(s, handler)
    try:
        yield
    except Interrupted as exc:
        if not redeliver or exc.signum not in installed:
            raise
        for s in installed:
            signal.signal(s, signal.SIG_DFL)
        installed = []
        signal.raise_signal(exc.signum)  # the default action: the process ends here
        raise
    finally:
        for s in installed:
            signal.signal(s, signal.SIG_DFL)


class Tensor(NamedTuple):
    """One checked tensor of a file: everything the writer needs, nothing left to check."""

    name: str | None  # the .safetensors name; None for a .npy file
    shape: tuple[int, ...]
    dtype: str
    init: str
    kwargs: dict[str, Any]  # seed, stream and the initializer's own arguments
    nbytes: int


def _progress(total: int, quiet: bool | None, desc: str) -> Any:
    """A tqdm bar of bytes written; silent when not on a terminal or when quiet."""
    from tqdm.auto import tqdm

    disable = quiet if quiet is not None else not sys.stderr.isatty()
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                disable=disable, dynamic_ncols=True)  # fmt: skip


@_docs.documented
def init_file(
    path: str | os.PathLike[str],
    shape: Sequence[int] | None = None,
    *,
    spec: Mapping[str, Mapping[str, Any]] | None = None,
    init: str = "kaiming_normal",
    dtype: str = "float32",
    seed: int | None,
    stream: int = 0,
    chunk_bytes: int = DEFAULT_CHUNK,
    quiet: bool | None = None,
    **init_kwargs: Any,
) -> Path:
    """Write an initialized tensor file larger than memory, in chunks of about `chunk_bytes`.

    `.npy`: one tensor of `shape` and `dtype` filled by `init`; its values equal an in-memory
    fill with the same seed and stream (``fk.kaiming_normal(shape, seed=seed, stream=stream)``).
    `.safetensors`: a whole model from `spec`, as :func:`init_safetensors` writes it. A
    progress bar shows bytes written, rate and time left on a terminal.

    `path` appears only when complete: the file is written under a temporary name in the same
    folder, its whole size reserved first (a full disk is an OSError, never a crash in a
    memory-mapped write), synced, then renamed. A file it replaces keeps its permission bits;
    a symbolic link is written through (the file it points to is replaced, atomically in that
    file's folder, and the link kept), as ``open(path, "w")`` writes through one. Memory use is
    bounded by `chunk_bytes`, whatever the file's size.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write, ending in ``.npy`` or ``.safetensors``.
    shape : sequence of int or None, default None
        The shape of a ``.npy`` file's tensor (at most 2**62 elements); None for a
        ``.safetensors`` file, which takes its shapes from `spec`.
    spec : mapping or None, default None
        A ``.safetensors`` file's tensors (see :func:`init_safetensors`); None for ``.npy``.
    init : str, default "kaiming_normal"
        The initializer, by the name of its out-of-place function: "kaiming_normal",
        "kaiming_uniform", "normal", "uniform", "trunc_normal", "xavier_normal",
        "xavier_uniform", "variance_scaling", "he_normal", "he_uniform", "glorot_normal",
        "glorot_uniform", "lecun_normal", "lecun_uniform"; or "zeros", "ones" and "constant"
        (with ``value=``), which take no seed and no stream. For `spec`, the default of
        entries that name none.
    dtype : {"float32", "float64", "float16", "bfloat16"}, default "float32"
        The dtype of the values. A ``.npy`` file has no bfloat16 (write a ``.safetensors``
        file for that). For `spec`, the default of entries that name none.
    seed : int or None
        The Philox key, an int in ``[0, 2**64)``; required, as a keyword. None draws one key
        from the OS for the whole file (a ``.safetensors`` header records it).
    stream : int, default 0
        The Philox stream of a ``.npy`` file's tensor, an int in ``[0, 2**64)``. A
        ``.safetensors`` tensor's stream is ``stream_for(name)`` unless its entry says.
    {file_chunk_bytes}
    {file_quiet}
    **init_kwargs : object
        The initializer's own arguments for a ``.npy`` file (``nonlinearity="relu"``,
        ``mode="fan_out"``, ``std=0.02``, ``value=0.5``, ...); a ``.safetensors`` file takes
        them in its spec entries.

    {file_returns}
    TypeError
        An argument of the wrong type (a float seed, a shape of strings, ...).
    ValueError
        `path` ends in neither ``.npy`` nor ``.safetensors``; `shape` given for a
        ``.safetensors`` file or `spec` for a ``.npy`` file; an unknown `init` or an argument
        it does not take; a `dtype` the format lacks; a seed or stream outside
        ``[0, 2**64)``; more than 2**62 elements; a `chunk_bytes` below 1; a problem in
        `spec` (every problem of the spec at once, one line each).
    OSError
        The folder lacks room for the file (errno ENOSPC, with both sizes), or another
        error of the file system. Arguments and room are checked before anything is created;
        after an error nothing is left behind.
    KeyboardInterrupt
        Ctrl-C, and SIGTERM or SIGHUP while their handlers are the default ones (in the main
        thread), raise ``fastkaiming._files.Interrupted``, a KeyboardInterrupt whose
        ``replaced`` says whether `path` had already been replaced (a signal during the
        folder's final sync). The temporary file is removed; for SIGTERM and SIGHUP the
        signal is then sent again, so that the process ends as it would have.

    See Also
    --------
    init_safetensors : A model's tensors in one ``.safetensors`` file.
    kaiming_normal : The same values in memory.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = fk.init_file(os.path.join(folder, "w.npy"), (256, 128), init="kaiming_normal",
    ...                     nonlinearity="relu", seed=0, stream=3, quiet=True)
    >>> w = np.load(path)
    >>> w.shape, w.dtype
    ((256, 128), dtype('float32'))
    >>> bool((w == fk.kaiming_normal((256, 128), nonlinearity="relu", seed=0, stream=3)).all())
    True
    >>> shutil.rmtree(folder)
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        if spec is None or shape is not None:
            raise ValueError("a .safetensors file takes spec= (the tensors), not shape=")
        if stream != 0 or init_kwargs:
            extra = ", ".join(f"{k}=" for k in ["stream"] * (stream != 0) + sorted(init_kwargs))
            raise ValueError(f"a .safetensors file takes initializer arguments in its spec, got {extra}")
        return init_safetensors(path, spec, seed=seed, chunk_bytes=chunk_bytes, quiet=quiet,
                                dtype=dtype, init=init)  # fmt: skip
    if path.suffix != ".npy":
        raise ValueError(f"path must end in .npy or .safetensors, got {path.name!r}")
    if shape is None or spec is not None:
        raise ValueError("a .npy file takes shape= (one tensor), not spec=")
    _check_chunk(chunk_bytes)
    kwargs = dict(init_kwargs)
    if not _is_constant(init):
        kwargs.update(seed=_checks.seed(seed), stream=_checks.stream(stream))
    elif stream != 0:
        kwargs["stream"] = stream  # check_tensor says that a constant init takes none
    tensor = check_tensor(None, shape, dtype, init, kwargs, NPY_DTYPES)
    header = _npy_header(tensor.shape, tensor.dtype)
    _write(path, header, [(tensor, len(header))], chunk_bytes, quiet)
    return path


@_docs.documented
def init_safetensors(
    path: str | os.PathLike[str],
    spec: Mapping[str, Mapping[str, Any]],
    *,
    seed: int | None,
    chunk_bytes: int = DEFAULT_CHUNK,
    quiet: bool | None = None,
    dtype: str = "float32",
    init: str = "kaiming_normal",
) -> Path:
    """Write a .safetensors file with every tensor of `spec`, each on stream stream_for(name).

    Loading the file gives, for each name, the in-memory fill with (seed, stream_for(name)),
    so a model's random initialization is one file that ``safetensors.torch.load_file`` or
    transformers' ``from_pretrained`` reads, written in bounded memory. The header's metadata
    records what was used: ``"seed"`` (when every tensor used the same), ``"tensors"`` (a JSON
    object of each tensor's init, seed, stream and arguments), ``"generator"`` and
    ``"fastkaiming_version"``. The file is written as :func:`init_file` writes one: complete
    or not at all.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (a ``.safetensors`` name is usual, not required).
    spec : mapping of str to mapping
        ``{name: {"shape": [...], "dtype": "float16", "init": "kaiming_normal", **kwargs}}``,
        in the file's order. "shape" is required; "dtype" (float16, bfloat16, float32 or
        float64) defaults to `dtype`; "init" (a name :func:`init_file` takes) defaults to
        `init`; every other key goes to the initializer (``"nonlinearity": "relu"``,
        ``"std": 0.02``, ``"value": 1.0``) and may override "seed" and "stream" (``"seed":
        null`` is an error: the header records the file's seed). "zeros", "ones" and
        "constant" entries take no seed and no stream (norm weights, biases).
    seed : int or None
        The Philox key of every tensor, an int in ``[0, 2**64)``; required, as a keyword.
        None draws one from the OS (the header records it).
    {file_chunk_bytes}
    {file_quiet}
    dtype : {"float32", "float64", "float16", "bfloat16"}, default "float32"
        The dtype of entries that name none.
    init : str, default "kaiming_normal"
        The initializer of entries that name none.

    {file_returns}
    TypeError
        `spec` is not a mapping, or every problem of the spec is one of type (a name that is
        not a str, an entry that is not a mapping, ...).
    ValueError
        Any other problem of the spec: a missing shape, an unknown dtype or init, an argument
        the initializer does not take or refuses, the reserved name ``__metadata__``, more
        than 2**62 elements. Every problem is reported at once, one line each, before the
        file is created. Also a seed outside ``[0, 2**64)`` or a `chunk_bytes` below 1.
    OSError
        The folder lacks room for the file (errno ENOSPC), or another error of the file
        system; nothing is left behind.
    KeyboardInterrupt
        Ctrl-C, SIGTERM or SIGHUP during the write, as for :func:`init_file`.

    See Also
    --------
    init_file : One ``.npy`` tensor, or a ``.safetensors`` file by its name.

    Examples
    --------
    >>> import json, os, shutil, struct, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> spec = {"fc.weight": {"shape": [64, 32], "init": "kaiming_uniform", "a": 5 ** 0.5},
    ...         "fc.bias": {"shape": [64], "init": "zeros"}}
    >>> path = fk.init_safetensors(os.path.join(folder, "model.safetensors"), spec, seed=0, quiet=True)
    >>> raw = path.read_bytes()
    >>> size = struct.unpack("<Q", raw[:8])[0]
    >>> header = json.loads(raw[8:8 + size])
    >>> header["fc.weight"]["dtype"], header["__metadata__"]["seed"]
    ('F32', '0')
    >>> stream = json.loads(header["__metadata__"]["tensors"])["fc.weight"]["stream"]
    >>> begin = 8 + size + header["fc.weight"]["data_offsets"][0]
    >>> w = np.frombuffer(raw, np.float32, count=64 * 32, offset=begin).reshape(64, 32)
    >>> bool((w == fk.kaiming_uniform((64, 32), a=5 ** 0.5, seed=0, stream=stream)).all())
    True
    >>> shutil.rmtree(folder)
    """
    path = Path(path)
    _check_chunk(chunk_bytes)
    key = _checks.seed(seed)  # None: one seed from the OS, for every tensor and the header
    tensors = check_spec(spec, seed=key, dtype=dtype, init=init)
    offset, header, used = 0, {}, {}
    for t in tensors:
        header[t.name] = {"dtype": _SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                          "data_offsets": [offset, offset + t.nbytes]}  # fmt: skip
        used[t.name] = {"init": t.init, **t.kwargs}
        offset += t.nbytes
    seeds = {t.kwargs["seed"] for t in tensors if "seed" in t.kwargs} or {key}
    metadata = {"format": "pt", "generator": "fastkaiming", "fastkaiming_version": __version__}
    if len(seeds) == 1:
        metadata["seed"] = str(seeds.pop())
    metadata["tensors"] = json.dumps(used, separators=(",", ":"), default=str)
    text = json.dumps({"__metadata__": metadata, **header}, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    start = 8 + len(text)
    plan, begin = [], start
    for t in tensors:
        plan.append((t, begin))
        begin += t.nbytes
    _write(path, struct.pack("<Q", len(text)) + text, plan, chunk_bytes, quiet)
    return path


def check_spec(spec: object, *, seed: int, dtype: str = "float32",
               init: str = "kaiming_normal") -> list[Tensor]:  # fmt: skip
    """Every tensor of a .safetensors spec, checked; all problems in one error, a line each.

    `seed` (an int) and `dtype`/`init` are the entries' defaults. Raises TypeError when every
    problem is one of type, else ValueError.
    """
    if not isinstance(spec, Mapping):
        raise TypeError(
            "spec must be a mapping of tensor names to entries ({name: {\"shape\": [...], "
            f"\"dtype\": ..., \"init\": ..., ...}}}}), got {type(spec).__name__}"
        )
    tensors, problems = [], []
    for name, entry in spec.items():
        where = f"spec[{name!r}]: "
        try:
            if not isinstance(name, str):
                raise TypeError(f"{where}tensor names must be str, got {type(name).__name__}")
            if not name.isascii():
                try:
                    name.encode("utf-8")
                except UnicodeEncodeError:
                    message = f"{where}tensor names must be UTF-8 text (a lone surrogate is not)"
                    raise ValueError(message) from None
            if name == "__metadata__":
                raise ValueError(f"{where}the name __metadata__ is reserved by the safetensors format")
            if not isinstance(entry, Mapping):
                raise TypeError(
                    f"{where}must be a mapping with shape, dtype and init, got {type(entry).__name__}"
                )
            kwargs = dict(entry)
            if "shape" not in kwargs:
                raise ValueError(f"{where}missing 'shape' (a list of ints)")
            shape = kwargs.pop("shape")
            entry_dtype = kwargs.pop("dtype", dtype)
            entry_init = kwargs.pop("init", init)
            if not _is_constant(entry_init):  # a constant's seed= or stream= is refused below
                if kwargs.get("seed", seed) is None:
                    raise ValueError(f"{where}seed must be an int in [0, 2**64), got None (leave 'seed' "
                                     "out to use the file's seed)")  # fmt: skip
                kwargs["seed"] = _checks.seed(kwargs.get("seed", seed))
                kwargs.setdefault("stream", stream_for(name))
            dtypes = tuple(_SAFETENSORS_DTYPES)
            tensors.append(check_tensor(name, shape, entry_dtype, entry_init, kwargs, dtypes))
        except (TypeError, ValueError) as exc:
            message = str(exc)
            problems.append((type(exc), message if message.startswith(where) else where + message))
    if problems:
        kind = TypeError if all(k is TypeError for k, _ in problems) else ValueError
        raise kind("\n".join(m for _, m in problems))
    return tensors


def check_tensor(name: str | None, shape: object, dtype: object, init: object, kwargs: dict[str, Any],
                 dtypes: tuple[str, ...]) -> Tensor:  # fmt: skip
    """One tensor, checked as far as a fill can check it, without writing the file.

    kwargs holds seed and stream. The initializer's arguments are checked by filling one
    element of the same global tensor in memory, so the messages are the fills' own.
    """
    dims = _constructors.check_shape(shape)
    count = math.prod(dims)
    if count > MAX_ELEMENTS:
        raise ValueError(f"shape {dims} has {count} elements, more than 2**62")
    if not isinstance(dtype, str):
        raise TypeError(f"dtype must be one of {', '.join(dtypes)}, got {dtype!r}")
    if dtype not in dtypes:
        note = " for .npy files (.npy has no bfloat16: write a .safetensors file)" if name is None else ""
        raise ValueError(f"dtype must be one of {', '.join(dtypes)}{note}, got {dtype!r}")
    init = _check_init(init)
    fill = INITS[init]
    accepted = ARGUMENTS[init]
    for key in kwargs:
        if key in _WRITER_ARGS:
            raise ValueError(f"{key} is set by the file writer, chunk by chunk; leave it out")
        if key not in accepted:
            raise ValueError(f"{init} takes no argument {key!r}; it takes {', '.join(accepted) or 'none'}")
    if init == "constant" and "value" not in kwargs:
        raise ValueError("constant needs 'value', the number every element gets (e.g. \"value\": 0.5)")
    # one element of the same global tensor (a zero-element tensor: the fill's own checks)
    scratch = np.zeros((1,) * len(dims) if count else dims, np.uint16 if dtype == "bfloat16" else dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the real fill warns, once
        try:
            fill(scratch, global_shape=dims, block_start=(0,) * len(dims), dtype=dtype, **kwargs)
        except OverflowError as exc:
            raise ValueError(f"{init}: {exc}") from None
    return Tensor(name, dims, dtype, init, kwargs, count * ITEMSIZE[dtype])


def _write(path: Path, header: bytes, plan: list[tuple[Tensor, int]], chunk: int, quiet: bool | None) -> None:
    """Check the room, reserve, fill each tensor at its byte offset, sync, rename, sync the folder.

    A symbolic link is written through, as open(path, "w") would: the file it points to is
    replaced, with the temporary file in that file's folder (a rename cannot cross filesystems).
    """
    size = len(header) + sum(t.nbytes for t, _ in plan)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    folder = path.parent
    free = shutil.disk_usage(folder).free
    if size > free:
        raise _no_room(path, size, free)
    with (stop_signals_raise(redeliver=True), _atomic(path) as tmp,
          open(tmp, "wb+", buffering=0) as f):  # unbuffered: no late errors at close  # fmt: skip
        fd = f.fileno()
        _write_all(fd, header)
        _reserve(fd, path, len(header), size, chunk)
        with _progress(size - len(header), quiet, path.name) as bar:
            for tensor, begin in plan:
                _fill_tensor(fd, begin, tensor, chunk, bar)
        _sync(fd)  # the data reach the disk before the name points at them


def _no_room(path: Path, size: int, free: int) -> OSError:
    message = (f"not enough space for {path.name}: it needs {size} bytes ({_human(size)}), "
               f"{path.parent} has {free} bytes free ({_human(free)})")  # fmt: skip
    return OSError(errno.ENOSPC, message)


def _human(n: int) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _reserve(fd: int, path: Path, start: int, size: int, chunk: int) -> None:
    """Allocate the file's blocks now, so that no write through a mapping meets a full disk.

    os.posix_fallocate where the platform and filesystem have it (glibc emulates it where the
    filesystem lacks fallocate). Elsewhere (macOS, Windows, musl without fallocate) zeros are
    written up to `size`: a reservation on every filesystem that allocates blocks when they are
    written, which is not the case on compressing or deduplicating ones (ZFS, btrfs with
    compression); it costs one extra sequential write of the file.
    """
    try:
        if hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, size)
                return
            except OSError as exc:
                if exc.errno not in _NO_FALLOCATE:
                    raise
        if size == start:
            return
        zeros = bytes(min(chunk, 1 << 20, size - start))
        os.lseek(fd, start, os.SEEK_SET)
        for left in range(size - start, 0, -len(zeros)):
            _write_all(fd, zeros if left >= len(zeros) else zeros[:left])
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise _no_room(path, size, shutil.disk_usage(path.parent).free) from None
        if exc.errno == errno.EFBIG:
            message = (f"{path.name} needs {size} bytes ({_human(size)}), more than the filesystem "
                       f"of {path.parent} allows for one file")  # fmt: skip
            raise OSError(errno.EFBIG, message) from None
        raise


def _fill_tensor(fd: int, begin: int, tensor: Tensor, chunk: int, bar: Any) -> None:
    """Fill one tensor at byte `begin` of the file: C-order blocks of about `chunk` bytes.

    A block is a run along one axis k (the outermost whose sub-arrays fit in a chunk) at fixed
    indices of the axes before it, whole along the axes after it: contiguous in the file, and a
    block fill (global_shape=, block_start=) of the whole tensor.
    """
    dims, itemsize = tensor.shape, ITEMSIZE[tensor.dtype]
    count = math.prod(dims)
    if count == 0:
        return
    kwargs = {**tensor.kwargs, "dtype": tensor.dtype}  # bfloat16 is held as uint16
    fill = INITS[tensor.init]
    np_dtype = np.uint16 if tensor.dtype == "bfloat16" else np.dtype(tensor.dtype)
    if not dims:  # a scalar
        _fill_window(fd, begin, (), np_dtype, lambda view: fill(view, **kwargs))
        bar.update(itemsize)
        return
    k = next((k for k in range(len(dims)) if math.prod(dims[k + 1 :]) * itemsize <= chunk), len(dims) - 1)
    inner = math.prod(dims[k + 1 :])
    step = max(1, chunk // (inner * itemsize))
    strides = [math.prod(dims[a + 1 :]) for a in range(len(dims))]  # elements per step of each axis
    for outer in itertools.product(*(range(d) for d in dims[:k])):
        for j in range(0, dims[k], step):
            n = min(step, dims[k] - j)
            start = (*outer, j) + (0,) * (len(dims) - k - 1)
            first = sum(s * st for s, st in zip(start, strides, strict=True))
            block = (1,) * k + (n,) + dims[k + 1 :]
            _fill_window(fd, begin + first * itemsize, block, np_dtype,
                         lambda view: fill(view, global_shape=dims, block_start=start, **kwargs))  # noqa: B023
            bar.update(n * inner * itemsize)


def _fill_window(fd: int, offset: int, shape: tuple[int, ...], np_dtype: Any,
                 fill: Callable[[np.ndarray], object]) -> None:  # fmt: skip
    """Map the bytes of one block, fill them and unmap: the pages leave this process (dirty ones
    stay in the OS's cache, written back by it or by the final fsync)."""
    length = math.prod(shape) * np.dtype(np_dtype).itemsize
    base = offset - offset % mmap.ALLOCATIONGRANULARITY  # a mapping starts on this boundary
    mm = mmap.mmap(fd, offset + length - base, offset=base)
    try:
        view = np.frombuffer(mm, np_dtype, math.prod(shape), offset - base).reshape(shape)
        fill(view)
        del view
    finally:
        with contextlib.suppress(BufferError):  # a view still alive (an exception's frames)
            mm.close()


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path next to `path`: given the permission bits of the file it replaces,
    renamed to it on success, then the folder synced; removed otherwise.

    An interruption (Ctrl-C, or a signal that stop_signals_raise turned into one) comes out as
    Interrupted, which says whether `path` had already been replaced.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    renaming = False
    try:
        yield tmp
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))  # no old file: open()'s 0666 & ~umask
        renaming = True
        os.replace(tmp, path)
        _sync_folder(path.parent)  # the rename itself survives a power loss
    except BaseException as exc:
        # a signal's exception can surface just after os.replace returned: ask the folder
        replaced = renaming and not os.path.lexists(tmp)
        if not replaced:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if isinstance(exc, KeyboardInterrupt):
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            raise Interrupted(signum, path, replaced) from None
        raise


def _sync(fd: int) -> None:
    """fsync; on macOS also F_FULLFSYNC, as fsync there does not flush the drive's cache."""
    os.fsync(fd)
    try:
        import fcntl
    except ImportError:  # Windows: os.fsync is _commit, a full flush
        return
    if hasattr(fcntl, "F_FULLFSYNC"):
        with contextlib.suppress(OSError):  # not every filesystem supports it
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)


def _sync_folder(folder: Path) -> None:
    """fsync a folder so that a rename in it is durable (POSIX).

    Windows cannot open a folder for this (NTFS journals the rename itself); filesystems that
    cannot sync a folder answer EINVAL, and then there is nothing more to do.
    """
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


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


def _is_constant(init: object) -> bool:
    return isinstance(init, str) and init in CONSTANT_INITS


def _check_init(name: object) -> str:
    if not isinstance(name, str) or name not in INITS:
        raise ValueError(f"init must be one of {', '.join(sorted(INITS))}, got {name!r}")
    return name


def _check_chunk(chunk_bytes: object) -> None:
    if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be a positive int, got {chunk_bytes!r}")
