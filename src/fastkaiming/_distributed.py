"""Torch tensors the host fill cannot write directly: DTensor shards and device (CUDA) tensors.

A DTensor's local shard is filled as one or more blocks of the global tensor (global shape from
the DTensor, the shard's place from torch's own placement helpers), so ``full_tensor()`` is
bit-identical to the same fill of a plain tensor in one process, for any mesh and placement. A
CUDA tensor (or CUDA shard) is filled on the host in bounded chunks and copied to the device.

Nothing here imports torch at module level: the fills route here only objects that are torch
tensors, which means torch has already been imported.
"""
from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import _blocks, _buffers, _checks

# Host staging buffer for device tensors: at most this many bytes per chunk.
CHUNK_BYTES = 64 << 20

Index = tuple[slice, ...]
Start = tuple[int, ...]  # a block's start (or a shape)


def _dtensor_type() -> type | None:
    """torch's DTensor class if torch.distributed.tensor was imported (else no DTensor exists)."""
    module = sys.modules.get("torch.distributed.tensor")
    return getattr(module, "DTensor", None)


def is_dtensor(tensor: object) -> bool:
    """True for a torch DTensor (FSDP2 and TP parameters included). Imports nothing."""
    dtensor = _dtensor_type()
    return dtensor is not None and isinstance(tensor, dtensor)


def routed(tensor: object) -> bool:
    """True for a torch DTensor or CUDA tensor (every other torch tensor goes to the buffer
    intake, which refuses other devices). Imports nothing."""
    if type(tensor) in _buffers.TORCH_PLAIN:  # plain torch.Tensor or Parameter: never a DTensor
        return tensor.is_cuda  # type: ignore[attr-defined]
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(tensor, torch.Tensor):
        return False
    return tensor.is_cuda or is_dtensor(tensor)  # is_cuda: cheaper than tensor.device


def unwrapped_class(module: object) -> type:
    """The class a module had before FSDP2's fully_shard (or replicate) swapped in its wrapper
    subclass ``FSDP<Name>(FSDPModule, <Name>)``; type(module) for any other module. For
    class-exact rules (init_module_'s), so that a sharded Linear is still a Linear."""
    cls = type(module)
    bases = cls.__bases__
    if (len(bases) == 2 and bases[0].__module__.startswith("torch.distributed.")
            and cls.__name__ in (f"FSDP{bases[1].__name__}", f"Replicate{bases[1].__name__}")):  # fmt: skip
        return bases[1]
    return cls


def _runs(indices: Sequence[int]) -> list[tuple[int, int, int]]:
    """(global start, local start, length) of each run of consecutive global indices."""
    runs: list[tuple[int, int, int]] = []
    for local, g in enumerate(indices):
        if runs and runs[-1][0] + runs[-1][2] == g:
            first, at, length = runs[-1]
            runs[-1] = (first, at, length + 1)
        else:
            runs.append((g, local, 1))
    return runs


def _held_indices(whole: tuple[int, ...], mesh: Any, placements: Sequence[Any],
                  coordinate: Sequence[int]) -> list[list[int]]:  # fmt: skip
    """Per dimension, the global indices this rank holds, in local order.

    torch 2.13 has no public helper for this: compute_local_shape_and_global_offset composes,
    left to right over the mesh dims, the indices that _get_shard_size_and_offsets gives for each
    Shard/_StridedShard placement, and keeps only the first. This is the same loop, over the same
    torch function, keeping all of them.
    """
    import torch
    from torch.distributed.tensor import Shard
    from torch.distributed.tensor._utils import _get_shard_size_and_offsets
    from torch.distributed.tensor.placement_types import _StridedShard

    held: dict[int, torch.Tensor] = {}
    for mesh_dim, placement in enumerate(placements):
        if not isinstance(placement, (Shard, _StridedShard)):  # _StridedShard.is_shard() is False
            continue
        dim = placement.dim
        current = held.get(dim)
        size_now = whole[dim] if current is None else len(current)
        size, index = _get_shard_size_and_offsets(
            size_now, mesh.size(mesh_dim), coordinate[mesh_dim], placement, current, whole[dim], False
        )
        assert index is not None  # offsets are computed (skip_offset=False)
        held[dim] = index[:size]  # an empty shard: torch returns a one-element placeholder
    return [held[d].tolist() if d in held else list(range(n)) for d, n in enumerate(whole)]


def _describe(placements: Sequence[Any]) -> str:
    return "(" + ", ".join(repr(p) for p in placements) + ")"


def shard_blocks(dtensor: Any) -> tuple[Any, list[tuple[Index, Start]]]:
    """The local shard of `dtensor` and the blocks it is made of: (index into the local shard,
    start of that block in the global tensor). One block unless a placement is strided
    (FSDP2 + TP); none on a rank outside the mesh. Raises for Partial and unknown placements.
    """
    import torch
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
    from torch.distributed.tensor.placement_types import _StridedShard

    placements = tuple(dtensor.placements)
    for mesh_dim, p in enumerate(placements):
        if isinstance(p, (Shard, _StridedShard, Replicate)):
            continue
        if p.is_partial():
            raise ValueError(
                f"tensor is a DTensor with placement {p!r} on mesh dim {mesh_dim} (placements "
                f"{_describe(placements)}): its local values are partial results to be reduced, "
                "not a part of the tensor; redistribute it to Shard or Replicate placements first"
            )
        raise ValueError(
            f"tensor is a DTensor with placement {p!r} on mesh dim {mesh_dim}; fastkaiming fills "
            "DTensors placed with Shard, Replicate and FSDP2's strided sharding"
        )
    with torch.no_grad():
        local = dtensor.to_local()
    mesh = dtensor.device_mesh
    coordinate = mesh.get_coordinate()
    if coordinate is None:  # this rank holds nothing of the tensor
        return local, []
    whole = tuple(dtensor.shape)
    shape, offset = compute_local_shape_and_global_offset(whole, mesh, placements)
    if tuple(local.shape) != tuple(shape):
        raise ValueError(
            f"tensor is a DTensor whose local shard has shape {tuple(local.shape)}, but its "
            f"placements {_describe(placements)} on mesh {tuple(mesh.shape)} give {tuple(shape)}"
        )
    if local.numel() == 0:
        return local, []
    if not any(isinstance(p, _StridedShard) for p in placements):
        return local, [(tuple(slice(None) for _ in whole), tuple(offset))]
    held = _held_indices(whole, mesh, placements, coordinate)
    if [len(h) for h in held] != list(shape) or [h[0] for h in held] != list(offset):
        raise ValueError(  # torch changed its strided-sharding helpers: refuse, never guess
            f"cannot place the shard of a DTensor with placements {_describe(placements)} "
            f"in this torch version ({torch.__version__})"
        )
    per_dim = [_runs(h) for h in held]
    blocks = [
        (tuple(slice(at, at + n) for _, at, n in runs), tuple(g for g, _, _ in runs))
        for runs in itertools.product(*per_dim)
    ]
    return local, blocks


def _pieces(shape: tuple[int, ...], start: Start, limit: int) -> Iterator[tuple[Index, Start, Start]]:
    """Rectangular sub-blocks of a block of `shape` at `start`, in C order, each of at most
    `limit` elements (or one element): (index into the block, piece shape, piece start)."""
    if not shape or math.prod(shape) <= limit:
        yield tuple(slice(0, n) for n in shape), shape, start
        return
    rest = shape[1:]
    inner = math.prod(rest)
    if inner <= limit:  # whole rows
        step = limit // inner
        for r in range(0, shape[0], step):
            rows = min(step, shape[0] - r)
            yield ((slice(r, r + rows), *(slice(0, n) for n in rest)), (rows, *rest),
                   (start[0] + r, *start[1:]))  # fmt: skip
        return
    for r in range(shape[0]):
        for index, sub_shape, sub_start in _pieces(rest, start[1:], limit):
            yield (slice(r, r + 1), *index), (1, *sub_shape), (start[0] + r, *sub_start)


def staged_fill(dest: Any, fill_piece: Callable[[Any, Start], object], start: Start,
                chunk_bytes: int = CHUNK_BYTES) -> None:  # fmt: skip
    """Fill torch tensor `dest`, a block at `start` of a larger tensor, through host buffers of
    at most `chunk_bytes` (one element at least): ``fill_piece(host, piece_start)`` fills each
    contiguous CPU piece, which is then copied into `dest`.

    For a CUDA `dest` the buffers are pinned and the copies asynchronous; two buffers alternate,
    and each is refilled only after an event says its last copy completed; the call returns once
    every copy has. Any other `dest` (a CPU tensor: how the tests exercise the chunking) gets
    plain copies from one unpinned buffer.
    """
    import torch

    if dest.numel() == 0:
        return
    cuda = dest.device.type == "cuda"
    limit = max(1, chunk_bytes // dest.element_size())
    size = min(limit, dest.numel())
    buffers = [torch.empty(size, dtype=dest.dtype, pin_memory=cuda) for _ in range(2 if cuda else 1)]
    copied: list[Any] = [None] * len(buffers)  # the event after each buffer's last copy
    for i, (index, shape, piece_start) in enumerate(_pieces(tuple(dest.shape), start, limit)):
        k = i % len(buffers)
        if copied[k] is not None:
            copied[k].synchronize()
        host = buffers[k][: math.prod(shape)].view(shape)
        fill_piece(host, piece_start)
        dest[index].copy_(host, non_blocking=cuda)
        if cuda:
            copied[k] = torch.cuda.Event()
            copied[k].record()
    for event in copied:
        if event is not None:
            event.synchronize()


def fill(tensor: Any, fill_block: Callable[..., object], dist: int, params: Callable[..., Any], *,
         seed: object, stream: object, offset: object, threads: object, dtype: object,
         supported: tuple[str, ...], global_shape: Sequence[int] | None,
         block_start: Sequence[int] | None) -> Any:  # fmt: skip
    """_api._fill for a DTensor or a device tensor: every check first (on a one-element host
    probe at the same place of the same global tensor), then each block of the local shard,
    through host staging if it is on CUDA. `fill_block` is _api._fill."""
    import torch

    sharded = is_dtensor(tensor)
    if sharded:
        if global_shape is not None or block_start is not None:
            raise ValueError(
                "global_shape= and block_start= do not apply to a DTensor: its global shape and "
                "the place of its shard come from its placements"
            )
        if seed is None:
            raise ValueError(
                "seed=None draws a seed from the OS on each rank, so the shards of a DTensor would "
                "not fit together; pass seed= (the same on every rank)"
            )
        local, blocks = shard_blocks(tensor)
        whole = tuple(tensor.shape)
    else:
        local = tensor.detach()  # same memory and version counter; copy_ into it under any grad mode
        where = _blocks.layout(tuple(local.shape), global_shape, block_start)
        whole = where.shape
        start = (0,) * len(whole) if block_start is None else tuple(int(s) for s in block_start)
        blocks = [(tuple(slice(None) for _ in whole), start)]
    device = local.device.type
    if device not in ("cpu", "cuda"):
        hint = " (it holds no memory: materialize it first, e.g. module.to_empty(device='cpu'))"
        raise ValueError(
            f"tensor is a DTensor whose shard is on {local.device}{hint if device == 'meta' else ''}; "
            "fastkaiming fills CPU shards, and CUDA shards through host staging"
        )
    key = _checks.seed(seed)
    count = math.prod(whole)
    probe = torch.empty((1,) * len(whole) if count else whole, dtype=local.dtype)
    fill_block(probe, dist, params, seed=key, stream=0 if callable(stream) else stream, offset=offset,
               threads=threads, dtype=dtype, supported=supported, global_shape=whole,
               block_start=(0,) * len(whole))  # fmt: skip
    if count == 0:
        return tensor
    stream_id = stream() if callable(stream) else stream

    def fill_piece(piece: Any, piece_start: Start) -> object:
        return fill_block(piece, dist, params, seed=key, stream=stream_id, offset=offset,
                          threads=threads, dtype=dtype, supported=supported,
                          global_shape=whole, block_start=piece_start)  # fmt: skip

    for index, block_start_ in blocks:
        block = local[index]
        if device == "cuda":
            staged_fill(block, fill_piece, block_start_)
        else:
            fill_piece(block, block_start_)
    if sharded:
        torch.autograd.graph.increment_version(tensor)  # as torch's own in-place ops do
    return tensor


def check_seed(seed: object) -> None:
    """Raise ValueError unless every rank of the default process group passed this seed.

    One all_gather of two int64 per rank. Without torch.distributed, or before
    init_process_group, there is nothing to compare with and it returns at once.
    """
    import torch
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        return
    error: Exception | None = None
    key = 0
    if seed is None:
        error = ValueError("check_seed=True needs an explicit seed=, the same on every rank")
    else:
        try:
            key = _checks.seed(seed)
        except (TypeError, ValueError) as e:
            error = e
    signed = key - _checks.U64 if key >= 1 << 63 else key  # as int64, two's complement
    backend = str(dist.get_backend())
    device = "cpu" if "gloo" in backend or not torch.cuda.is_available() else "cuda"
    mine = torch.tensor([error is None, signed], dtype=torch.int64, device=device)
    gathered = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, mine)
    if error is not None:
        raise error
    rows = [t.tolist() for t in gathered]
    invalid = [rank for rank, (ok, _) in enumerate(rows) if not ok]
    if invalid:
        raise ValueError(f"check_seed: rank(s) {invalid} passed an invalid seed")
    seeds = {rank: value % _checks.U64 for rank, (_, value) in enumerate(rows)}
    if len(set(seeds.values())) > 1:
        listed = ", ".join(f"rank {rank}: {value}" for rank, value in seeds.items())
        raise ValueError(
            f"the seed differs across ranks ({listed}); every rank must pass the same seed= "
            "(drop-ins with generator=None: call torch.manual_seed with the same value on every rank)"
        )
