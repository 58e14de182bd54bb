"""Torch tensors the host fill cannot write directly: DTensor shards and device (CUDA) tensors.

A DTensor's local shard is filled as one or more blocks of the global tensor (global shape from
the DTensor, the shard's place from torch's own placement helpers), so ``full_tensor()`` is
bit-identical to the same fill of a plain tensor in one process, for any mesh and placement. A
CUDA tensor (or CUDA shard) is filled on the host in bounded chunks and copied to the device.

The core reaches this module through _adapters (routed, fill) with torch tensors only, and
fastkaiming.torch's own modules call it directly.
"""
from __future__ import annotations

import itertools
import math
import sys
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .. import _blocks, _checks
from . import _intake

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
    intake, which refuses other devices). Imports nothing. Raises ValueError for FSDP2's
    temporary unsharded copy of a parameter (fsdp_temporary)."""
    if type(tensor) in _intake.PLAIN:  # plain torch.Tensor or Parameter: never a DTensor
        if FSDP_STATES in sys.modules:
            refuse_fsdp_temporary(tensor)
        return tensor.is_cuda  # type: ignore[attr-defined]
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(tensor, torch.Tensor):
        return False
    if FSDP_STATES in sys.modules:
        refuse_fsdp_temporary(tensor)
    return tensor.is_cuda or is_dtensor(tensor)  # is_cuda: cheaper than tensor.device


# torch's registry of composable states (FSDP2's among them), imported with torch.distributed.fsdp
FSDP_STATES = "torch.distributed._composable_state"


def _fsdp_states() -> list[tuple[Any, Any]]:
    """(module, state) of every live module that FSDP2's fully_shard (or replicate) manages."""
    registry = sys.modules.get(FSDP_STATES)
    mapping = getattr(registry, "_module_state_mapping", None)
    if not mapping:
        return []
    found = []
    for module, ref in list(mapping.items()):
        state = ref()
        if state is not None and hasattr(state, "_fsdp_param_groups"):
            found.append((module, state))
    return found


def fsdp_state(module: object) -> Any:
    """The FSDP2 state of a module that fully_shard (or replicate) wraps, else None."""
    registry = sys.modules.get(FSDP_STATES)
    mapping = getattr(registry, "_module_state_mapping", None)
    ref = mapping.get(module) if mapping else None
    state = ref() if ref is not None else None
    return state if hasattr(state, "_fsdp_param_groups") else None


def fsdp_unsharded(state: Any) -> list[Any]:
    """The FSDPParams of an FSDP2 state whose module holds a temporary parameter: the unsharded
    one (after a forward with reshard_after_forward=False, or unshard()) or the post-forward one
    on a smaller mesh (reshard_after_forward=<int>). reshard() frees both and registers the
    sharded DTensor again, so what is written into them is lost.

    Reads torch 2.13's FSDP2 internals (FSDPState._fsdp_param_groups, FSDPParamGroup.is_sharded,
    FSDPParam.sharded_state); tests/test_fsdp_state.py pins them."""
    held = []
    for group in state._fsdp_param_groups:
        if group.is_sharded:
            continue
        held += [p for p in group.fsdp_params if p.sharded_state.name != "SHARDED"]
    return held


def _storage(tensor: Any) -> int:
    """The address of the storage of `tensor` (of its local shard for a DTensor); 0 if none."""
    if type(tensor) in _intake.PLAIN:  # data_ptr: cheaper than untyped_storage()
        address = int(tensor.data_ptr())  # 0: meta, or no memory
        return address - tensor.storage_offset() * tensor.element_size() if address else 0
    local = tensor._local_tensor if is_dtensor(tensor) else tensor
    if local.is_meta:
        return 0
    return int(local.untyped_storage().data_ptr())


# The FSDPParamGroups of the live FSDP2 states (weak references), and the number of entries of
# torch's registry they were read from: read again when that number changes or a group died.
_GROUPS: list[Any] = []
_GROUPS_FROM = [-1]


def _fsdp_groups() -> list[Any]:
    """Every live FSDPParamGroup; none while torch.distributed.fsdp is not imported."""
    registry = sys.modules.get(FSDP_STATES)
    mapping = getattr(registry, "_module_state_mapping", None)
    if not mapping:
        return []
    groups = [ref() for ref in _GROUPS]
    if len(mapping) != _GROUPS_FROM[0] or None in groups:
        groups = [g for _, state in _fsdp_states() for g in state._fsdp_param_groups]
        _GROUPS[:] = [weakref.ref(g) for g in groups]
        _GROUPS_FROM[0] = len(mapping)
    return groups


def fsdp_temporaries() -> dict[object, Any]:
    """The parameters FSDP2 holds only until the next reshard() (fsdp_unsharded), found among the
    FSDP2 states of the live modules (none while torch.distributed.fsdp is not imported): their
    FSDPParams keyed by id(tensor) and by ("storage", address of its memory). Costs one
    attribute read per FSDP2 module while every one is sharded."""
    found: dict[object, Any] = {}
    groups = _fsdp_groups()
    if not groups:
        return found
    states = type(groups[0]._sharded_state)
    sharded, unsharded = states.SHARDED, states.UNSHARDED
    for group in groups:
        if group._sharded_state is sharded:
            continue
        for fsdp_param in group.fsdp_params:
            state = fsdp_param.sharded_state
            if state is sharded:
                continue
            temporary = (fsdp_param._unsharded_param if state is unsharded
                         else fsdp_param._sharded_post_forward_param)  # fmt: skip
            if temporary is None:
                continue
            found[id(temporary)] = fsdp_param
            address = _storage(temporary)
            if address:
                found[("storage", address)] = fsdp_param
    return found


def held_by_fsdp(tensor: Any, temporaries: dict[object, Any]) -> str | None:
    """Which FSDP2 temporary `tensor` is, or shares memory with, if any (fsdp_temporaries)."""
    if not temporaries:
        return None
    found = temporaries.get(id(tensor))
    if found is None:
        address = _storage(tensor)
        found = temporaries.get(("storage", address)) if address else None
    if found is None:
        return None
    info = found._module_info
    return f"the parameter '{info.param_name}' of a {type(info.module).__name__}"


def refuse_fsdp_temporary(tensor: Any) -> None:
    """Raise ValueError if `tensor` is, or shares memory with (``.data``, a view, to_local()), a
    parameter FSDP2 holds only until the next reshard() (fsdp_temporaries). Such a tensor has no
    mark of its own; a copy of its values (``p.detach().clone()``) is the caller's own tensor."""
    text = held_by_fsdp(tensor, fsdp_temporaries())
    if text is not None:
        raise ValueError(
            f"tensor is FSDP2's temporary unsharded copy of {text} (held after a forward with "
            "reshard_after_forward=False, or unshard()): reshard() frees it and registers the "
            "sharded DTensor again, so the values written would be lost; call reshard() on "
            "the FSDP modules first (FSDPModule.reshard is not recursive) and fill the "
            "sharded parameter"
        )


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


# check_seed calls so far per group name: every rank of a group numbers its calls alike
_CHECKS: dict[str, int] = {}
CHECK_TIMEOUT = 300.0


def check_seed(seed: object, group: object = None, timeout: object = None) -> None:
    """Raise ValueError unless every rank of `group` (None: the default process group) passed
    this seed; RuntimeError naming the ranks that did not call it within `timeout` seconds
    (None: CHECK_TIMEOUT).

    Each rank writes its seed under its own key in the process group's store (the TCPStore of
    init_process_group, which every backend has) and waits for the keys of the group's other
    ranks, so a rank that never comes (a pipeline stage that is not meant to take part: pass
    group=) is named on every rank that did, after `timeout`, instead of a collective hanging
    until the group's own timeout. Without torch.distributed, or before init_process_group,
    there is nothing to compare with and it returns at once.

    Calls pair up by their number on each rank (as collectives do): after a rank timed out, the
    group's later checks no longer pair up; the error is meant to stop the job.
    """
    import datetime

    import torch.distributed as dist

    wait = CHECK_TIMEOUT if timeout is None else _checks.real("timeout", timeout)
    if not (0 < wait < math.inf):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if not dist.is_available() or not dist.is_initialized():
        return
    if group is dist.GroupMember.NON_GROUP_MEMBER:
        raise ValueError(f"group= is a group this rank ({dist.get_rank()}) is not a member of: pass "
                         "init_module_(check_seed=True) a group of the ranks that call it")  # fmt: skip
    if group is not None and not isinstance(group, dist.ProcessGroup):
        raise TypeError(f"group must be a torch.distributed ProcessGroup or None, got {type(group).__name__}")
    pg: Any = group if group is not None else dist.group.WORLD
    ranks = tuple(dist.get_process_group_ranks(pg))
    name = pg.group_name  # two groups of the same ranks are two groups
    me = dist.get_rank()
    mine = "invalid"
    error: Exception | None = None
    if seed is None:
        error = ValueError("check_seed=True needs an explicit seed=, the same on every rank")
    else:
        try:
            mine = str(_checks.seed(seed))
        except (TypeError, ValueError) as e:
            error = e
    call = _CHECKS[name] = _CHECKS.get(name, 0) + 1
    store = dist.distributed_c10d._get_default_store()
    prefix = f"fastkaiming/check_seed/{name}/{call}/"
    store.set(prefix + str(me), mine)
    keys = [prefix + str(r) for r in ranks]
    try:
        store.wait(keys, datetime.timedelta(seconds=wait))
    except RuntimeError:  # DistStoreError: "Wait timeout"
        missing = [r for r, key in zip(ranks, keys, strict=True) if not store.check([key])]
        if not missing:  # they came in the meantime
            store.wait(keys, datetime.timedelta(seconds=wait))
        else:
            raise RuntimeError(
                f"check_seed: rank(s) {missing} of the group {list(ranks)} did not call "
                f"init_module_(check_seed=True) within {wait:g} s (timeout=); when only some ranks "
                "initialize this module (a pipeline stage), pass group= with exactly those ranks"
            ) from None
    if error is not None:
        raise error
    values = {r: store.get(key).decode() for r, key in zip(ranks, keys, strict=True)}
    invalid = [r for r, v in values.items() if v == "invalid"]
    if invalid:
        raise ValueError(f"check_seed: rank(s) {invalid} passed an invalid seed")
    if len(set(values.values())) > 1:
        listed = ", ".join(f"rank {r}: {v}" for r, v in values.items())
        raise ValueError(
            f"the seed differs across ranks ({listed}); every rank must pass the same seed= "
            "(drop-ins with generator=None: call torch.manual_seed with the same value on every rank)"
        )
