"""torch tensors in: fill only memory that is provably the tensor's own.

Reached from the core through _adapters, with the first torch tensor it is given (torch is then
already imported; ``import fastkaiming`` never imports torch). A plain CPU tensor or
nn.Parameter is handed to the binding as address, shape and strides, with no DLPack export.
Everything else torch has (lazy negated or conjugate views, tensors without allocated storage,
views beyond their storage, sparse, quantized, nested, mkldnn and meta tensors, other devices,
every subclass) is a TypeError or ValueError that says what to do, raised before a byte is
written.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from .. import _checks, _core, _dtypes

_NAMES = {torch.float16: "float16", torch.float32: "float32", torch.float64: "float64",
          torch.bfloat16: "bfloat16", torch.uint32: "uint32"}  # fmt: skip
_ITEMSIZE = {name: _dtypes.ITEMSIZE[name] for name in _NAMES.values()}
# Exactly these classes are plain tensors (torch.nn.Buffer(t) returns a torch.Tensor).
PLAIN = frozenset((torch.Tensor, torch.nn.Parameter))
_SPARSE = {torch.sparse_coo, torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc}
_increment_version = torch.autograd.graph.increment_version
_MAX_NDIM = _core.MAX_NDIM
# A checked tensor's memory: (dtype name, address, shape, strides in items)
Memory = tuple[str, int, tuple[int, ...], tuple[int, ...]]


def _supported(supported: tuple[str, ...]) -> str:
    return ", ".join(f"torch.{name}" for name in supported)


def _subclass_error(t: torch.Tensor) -> TypeError:
    cls = type(t)
    if isinstance(t, torch.nn.parameter.UninitializedTensorMixin):  # type: ignore[attr-defined]
        return TypeError(
            f"tensor is an uninitialized lazy parameter ({cls.__name__}): it has no shape or memory "
            "yet; run a forward pass (or call its materialize()) before initializing it"
        )
    if any(c.__name__ == "DTensor" and c.__module__.startswith("torch.distributed") for c in cls.__mro__):
        return TypeError(
            "tensor is a DTensor: a DTensor is filled shard by shard by fastkaiming's DTensor "
            "support, never as one buffer; until that handles it, fill its local shard instead: "
            "t.to_local(), with global_shape=t.shape and block_start= its offset in the whole tensor"
        )
    return TypeError(
        f"tensor is a {cls.__module__}.{cls.__qualname__}, a subclass of torch.Tensor; fastkaiming "
        "fills only plain torch.Tensor and torch.nn.Parameter objects, whose memory it can see: "
        "fill a plain tensor and build the subclass from it"
    )


def _kind_error(t: torch.Tensor) -> Exception | None:
    """The error for a tensor that is not a dense tensor in host memory, else None."""
    layout = t.layout
    if layout in _SPARSE:
        return TypeError(
            f"tensor is sparse ({layout}); fastkaiming fills dense tensors: fill a dense tensor "
            "and convert it (e.g. .to_sparse())"
        )
    if layout is not torch.strided and not t.is_nested:
        return TypeError(
            f"tensor has layout {layout}, an opaque tensor (e.g. MKL-DNN) whose memory fastkaiming "
            "cannot address: fill a dense tensor and convert it (e.g. .to_mkldnn())"
        )
    if t.is_meta:
        return ValueError(
            "tensor is on the meta device (it has no data): materialize the model with "
            "module.to_empty(device=...) first (or create the tensor on the CPU), then initialize it"
        )
    if not t.is_cpu:
        return _dtypes.device_error(str(t.device))
    if t.is_quantized:
        return TypeError(
            f"tensor is quantized ({t.dtype}); fastkaiming fills float tensors: fill a float "
            "tensor and quantize it (e.g. torch.quantize_per_tensor)"
        )
    if t.is_nested:
        return TypeError(
            "tensor is a nested tensor; fastkaiming fills dense tensors: fill the dense "
            "components first, then nest them (torch.nested.nested_tensor([...]))"
        )
    return None


def _flag_error(t: torch.Tensor) -> ValueError:
    if t.is_neg():
        return ValueError(
            "tensor is a lazy negated view (t.is_neg(), e.g. .conj().imag of a complex tensor): its "
            "memory holds the negation of what it reads; fill t.resolve_neg() (or t.clone()) instead"
        )
    if t.is_conj():
        return ValueError(
            "tensor is a lazy conjugate view (t.is_conj()): its memory holds the conjugate of what "
            "it reads; fill t.resolve_conj() (or t.clone()) instead"
        )
    return _not_allocated("a ZeroTensor, as from torch._efficientzerotensor")


def _wrapper_error() -> TypeError:
    return TypeError(
        "tensor has no storage of its own (a torch.func vmap/grad/functionalize or other wrapper "
        "tensor): fill the tensor it wraps, outside the transform"
    )


def _not_allocated(why: str) -> ValueError:
    return ValueError(
        f"tensor's data is not allocated yet ({why}): there is no memory to fill; allocate it "
        "first (torch.empty(...), or resize its storage back as FSDP does when it unshards)"
    )


def memory(t: torch.Tensor, dtype: object, supported: tuple[str, ...] = _dtypes.FLOAT_DTYPES) -> Memory:
    """Check the torch tensor `t` (overlap included); return where its memory is. Writes nothing."""
    try:
        if type(t) not in PLAIN:
            raise _subclass_error(t)
        if t.layout is not torch.strided or not t.is_cpu or t.is_quantized or t.is_nested:
            raise _kind_error(t) or TypeError(f"tensor of kind {t.layout} cannot be filled")
        name = _NAMES.get(t.dtype)
        if name not in supported:
            raise TypeError(
                f"tensor has unsupported dtype {t.dtype}; supported dtypes: {_supported(supported)}"
            )
        if dtype is not None:
            _dtypes.check_match(dtype, name, supported, f"torch.{name}")  # type: ignore[arg-type]
        if t.is_neg() or t.is_conj() or t._is_zerotensor():
            raise _flag_error(t)
        shape = t.shape
        steps = t.stride()
        itemsize = _ITEMSIZE[name]  # type: ignore[index]
        # contiguous: no two elements share memory, and the last is numel - 1 items after the first
        contiguous = t.is_contiguous()
        address = 0
        if 0 not in shape:
            address, nbytes = _storage(t)
            if contiguous:
                end = t.storage_offset() * itemsize + t.nbytes
            else:
                last = t.storage_offset()
                for n, s in zip(shape, steps, strict=True):
                    last += (n - 1) * s
                end = (last + 1) * itemsize
            if end > nbytes:
                raise ValueError(
                    f"tensor's view ends at byte {end} of its storage, which has only "
                    f"{nbytes} bytes (resized under it?): fill a tensor whose storage holds it"
                )
        if not contiguous or len(shape) > _MAX_NDIM:
            _checks.layout(len(shape), shape, [s * itemsize for s in steps], itemsize)
    except (RuntimeError, NotImplementedError, BufferError, OverflowError) as exc:  # torch's own
        raise TypeError(
            f"tensor ({type(t).__name__}) could not be inspected: {type(exc).__name__}: {exc}; "
            "fastkaiming fills dense CPU tensors that own their memory"
        ) from None
    return name, address, shape, steps  # type: ignore[return-value]


def _storage(t: torch.Tensor) -> tuple[int, int]:
    """The address of t's first element and its storage's size in bytes, both nonzero."""
    try:
        address = t.data_ptr()
        nbytes = t.untyped_storage().nbytes()
    except (RuntimeError, NotImplementedError):  # a wrapper (vmap, grad) with no storage of its own
        raise _wrapper_error() from None
    if nbytes == 0:
        raise _not_allocated("its storage has 0 bytes, as after untyped_storage().resize_(0)")
    if address == 0:  # storage bytes but no address: a wrapper (functionalize)
        raise _wrapper_error()
    return address, nbytes


def written(t: torch.Tensor) -> Callable[[], None]:
    """To call after the write: bump the autograd version, as torch's in-place ops do, so that a
    backward() through a value saved before the fill raises instead of using the new one."""
    return lambda: _increment_version(t)


def all_written(tensors: list[torch.Tensor]) -> None:
    """After writing `tensors`: bump their autograd versions (one call for all), as written()."""
    _increment_version(tensors)
