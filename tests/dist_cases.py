"""The cases of test_routing.py, and the worker that runs them on every rank.

Each case fills a DTensor (or a sharded model) on a mesh and records a digest of every
full_tensor(); the parent process runs the same fill on plain tensors and compares the digests.
Not a test module: imported by test_routing.py and, in each spawned rank, by the worker.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import pathlib
import socket
import tempfile
import time
import traceback

import torch

import fastkaiming as fk
import fastkaiming._api
import fastkaiming.torch as fki
from fastkaiming.torch import _routing

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "float64": torch.float64}  # fmt: skip


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _drop_in(fill):
    """A fastkaiming.torch drop-in with generator=None: the seed from torch's default generator."""
    def run(t):
        torch.manual_seed(1234)
        return fill(t)
    return run


# Every initializer family: a fill of one tensor, the same in every process.
FAMILIES = {
    "kaiming_normal": lambda t: fk.kaiming_normal_(t, nonlinearity="relu", seed=7, stream=1),
    "kaiming_uniform": lambda t: fk.kaiming_uniform_(t, a=math.sqrt(5), mode="fan_out", seed=7),
    "normal_offset": lambda t: fk.normal_(t, 0.5, 0.02, seed=7, offset=5),
    "uniform": lambda t: fk.uniform_(t, -0.3, 0.2, seed=7, stream=2),
    "trunc_normal": lambda t: fk.trunc_normal_(t, std=0.02, a=-0.04, b=0.03, seed=7),
    "xavier_normal": lambda t: fk.xavier_normal_(t, gain=2.0, seed=7),
    "xavier_uniform": lambda t: fk.xavier_uniform_(t, seed=7),
    "variance_scaling": lambda t: fk.variance_scaling_(t, 2.0, "fan_avg", "truncated_normal", seed=7),
    "lecun_uniform": lambda t: fk.lecun_uniform_(t, seed=7),
    "he_normal": lambda t: fk.he_normal_(t, seed=7),
    "generator_stream": lambda t: fk.Generator(11).fill(fk.glorot_normal_, t),
    "torch_kaiming_normal": _drop_in(lambda t: fki.kaiming_normal_(t, mode="fan_out")),
    "torch_kaiming_uniform": _drop_in(lambda t: fki.kaiming_uniform_(t, a=math.sqrt(5))),
    "torch_xavier_uniform": lambda t: fki.xavier_uniform_(t, gain=1.5, generator=_generator(5)),
    "torch_xavier_normal": _drop_in(lambda t: fki.xavier_normal_(t)),
    "torch_trunc_normal": _drop_in(lambda t: fki.trunc_normal_(t, std=0.02)),
    "torch_normal": lambda t: fki.normal_(t, std=0.02, seed=3, stream=9),
    "torch_uniform": _drop_in(lambda t: fki.uniform_(t, -1.0, 1.0)),
}


# On every layout: four families, one per dtype.
CORE = (("kaiming_uniform", "float32"), ("trunc_normal", "bfloat16"),
        ("torch_kaiming_normal", "float16"), ("xavier_normal", "float64"))  # fmt: skip


def mesh_shapes(world):
    """Mesh shapes per world size: 1-D always, 2-D where the world size allows."""
    shapes = [(world,)]
    if world == 4:
        shapes.append((2, 2))
    if world in (2, 3):
        shapes.append((1, world))
    return shapes


def _placements(mesh_shape):
    """(name, placements) for a mesh shape: every kind the fills support."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.placement_types import _StridedShard

    # _StridedShard alone or after a Shard: a rank holds several runs of rows (several blocks)
    if len(mesh_shape) == 1:
        return [("S0", [Shard(0)]), ("S1", [Shard(1)]), ("R", [Replicate()]), ("S2", [Shard(2)]),
                ("SS0", [_StridedShard(0, split_factor=2)]), ("SS1", [_StridedShard(1, split_factor=3)])]
    return [("S0S1", [Shard(0), Shard(1)]), ("S0S0", [Shard(0), Shard(0)]),
            ("RS1", [Replicate(), Shard(1)]), ("S1R", [Shard(1), Replicate()]),
            ("SS0S0", [_StridedShard(0, split_factor=mesh_shape[1]), Shard(0)]),
            ("SS1S1", [_StridedShard(1, split_factor=mesh_shape[1]), Shard(1)]),
            ("S0SS0", [Shard(0), _StridedShard(0, split_factor=2)]),
            ("SS0SS1", [_StridedShard(0, split_factor=3), _StridedShard(1, split_factor=2)])]  # fmt: skip


# Shapes: uneven on every world size, with empty shards on 4 ranks (3 rows), a conv kernel.
SHAPES = {"1001x7": (1001, 7), "3x5": (3, 5), "6x4x3x3": (6, 4, 3, 3), "13x9": (13, 9)}


# The layouts that get every family and dtype: 1-D rows, a 2-D tile, FSDP2 + TP's strided rows.
CROSS_LAYOUTS = ("S0", "S0S1", "SS0S0")


def tensor_cases(world, full=True):
    """(case id, mesh shape, placements name, shape, dtype name, family name): the CORE fills
    on every layout and shape, every family and dtype on the 1001 x 7 CROSS_LAYOUTS.
    full=False: the CORE fills on the CROSS_LAYOUTS (what the narrower kernels run)."""
    cases = []
    for mesh_shape in mesh_shapes(world):
        for pname, placements in _placements(mesh_shape):
            dims = max((p.dim for p in placements if hasattr(p, "dim")), default=-1)
            for sname, shape in SHAPES.items():
                cross = pname in CROSS_LAYOUTS and sname == "1001x7"
                if dims >= len(shape) or not (cross or full):
                    continue
                runs = [(f, d) for f in FAMILIES for d in DTYPES] if cross and full else CORE
                for family, dtype in runs:
                    mesh_id = "x".join(map(str, mesh_shape))
                    cases.append((f"mesh{mesh_id}-{pname}-{sname}-{dtype}-{family}", mesh_shape,
                                  pname, shape, dtype, family))  # fmt: skip
    return cases


def digest(t):
    """SHA-256 of a tensor's bytes, in C order (bfloat16/float16 as int16)."""
    t = t.detach().contiguous().cpu()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    return hashlib.sha256(t.numpy().tobytes()).hexdigest()


def plain(case):
    """The one-process fill of a tensor case."""
    _, _, _, shape, dtype, family = case
    t = torch.zeros(shape, dtype=DTYPES[dtype])
    FAMILIES[family](t)
    return digest(t)


# -- sharded models --------------------------------------------------------------------------

def small_model(dtype=torch.float32):
    return torch.nn.Sequential(torch.nn.Linear(10, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3),
                               torch.nn.LayerNorm(3), torch.nn.Embedding(5, 4, padding_idx=3)).to(dtype)  # fmt: skip


def _whole_digest(p):
    return digest(p.full_tensor() if hasattr(p, "full_tensor") else p)


def model_digests(model):
    """fastkaiming.torch.init_module_, then a drop-in on every parameter (generator=None): the
    digest of every parameter after each (taken at once: the drop-ins overwrite the values)."""
    fki.init_module_(model, seed=0, check_seed=True)
    out = {f"init_module/{n}": _whole_digest(p) for n, p in model.named_parameters()}
    torch.manual_seed(77)
    for n, p in model.named_parameters():
        fki.trunc_normal_(p, std=0.5)
        out[f"drop_in/{n}"] = _whole_digest(p)
    return out


def model_cases(world):
    """(case id, kind, mesh shape, dtype name)."""
    cases = [(f"fsdp{world}-{d}", "fsdp", (world,), d) for d in ("float32", "bfloat16")]
    cases.append((f"tp{world}-float32", "tp", (world,), "float32"))
    if world == 4:
        cases += [(f"fsdp_tp2x2-{d}", "fsdp_tp", (2, 2), d) for d in ("float32", "bfloat16")]
    return cases


def plain_model(case):
    _, _, _, dtype = case
    return model_digests(small_model(DTYPES[dtype]))


def sharded_model(case, mesh):
    """The small model on meta, sharded as the case says, materialized on the CPU uninitialized."""
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    _, kind, _, dtype = case
    with torch.device("meta"):
        model = small_model(DTYPES[dtype])
    plan = {"0": ColwiseParallel(), "2": RowwiseParallel()}
    if kind == "tp":
        parallelize_module(model, mesh, plan)
    elif kind == "fsdp_tp":
        parallelize_module(model, mesh["tp"], plan)
    if kind in ("fsdp", "fsdp_tp"):
        dp = mesh["dp"] if kind == "fsdp_tp" else mesh
        for layer in (model[0], model[2], model[3], model[4]):
            fully_shard(layer, mesh=dp)
        fully_shard(model, mesh=dp)
    return model.to_empty(device="cpu")


# -- spawning ranks ---------------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_rank_mesh():
    """For a module-scoped fixture: a one-rank gloo group (HashStore) in this process, its mesh."""
    import pytest
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    if dist.is_initialized():
        pytest.skip("a process group is already initialized in this process")
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield init_device_mesh("cpu", (1,))
    dist.destroy_process_group()


def spawn(target, world, args, timeout):
    """Run ``target(rank, world, port, outdir, *args)`` on `world` spawned ranks (gloo on a free
    local port), waiting at most `timeout` seconds from start to exit; every .pt file the ranks
    saved in outdir, loaded, by file name. A hung or failed rank fails the calling test."""
    import pytest

    ctx = torch.multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as out:
        port = _free_port()
        procs = [ctx.Process(target=target, args=(r, world, port, out, *args), daemon=True)
                 for r in range(world)]  # fmt: skip
        for p in procs:
            p.start()
        deadline = time.monotonic() + timeout
        for p in procs:
            p.join(max(1.0, deadline - time.monotonic()))
        hung = [r for r, p in enumerate(procs) if p.is_alive()]
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(10)
        errors = "\n".join(f.read_text() for f in sorted(pathlib.Path(out).glob("error-*")))
        if hung or errors or any(p.exitcode for p in procs):
            pytest.fail(f"world size {world}: ranks {hung} still running after {timeout} s, "
                        f"exit codes {[p.exitcode for p in procs]}\n{errors}")  # fmt: skip
        return {f.name: torch.load(f) for f in pathlib.Path(out).glob("*.pt")}


# -- the worker ------------------------------------------------------------------------------

def _run_all(rank, world, isas):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import distribute_tensor

    meshes = {}
    for shape in mesh_shapes(world):
        names = ("dp", "tp") if len(shape) == 2 else ("dp",)
        meshes[shape] = init_device_mesh("cpu", shape, mesh_dim_names=names)
    results = {}
    placements = {(s, n): p for s in meshes for n, p in _placements(s)}
    for isa in isas:  # every case on the widest kernel, a few on the others
        fastkaiming._api._ISA = isa
        widest = isa == max(isas)
        for case in tensor_cases(world, full=widest):
            name, mesh_shape, pname, shape, dtype, family = case
            dt = distribute_tensor(torch.zeros(shape, dtype=DTYPES[dtype]), meshes[mesh_shape],
                                   placements[(mesh_shape, pname)], src_data_rank=None)  # fmt: skip
            version = dt._version
            results[(name, "blocks")] = len(_routing.shard_blocks(dt)[1])
            FAMILIES[family](dt)
            results[(name, isa)] = digest(dt.full_tensor())
            results[(name, isa, "version bumped")] = dt._version > version
        for case in model_cases(world) if widest else ():
            model = sharded_model(case, meshes[case[2]])
            results[(case[0], isa)] = model_digests(model)
            if case[1] == "fsdp_tp":  # the strided placement must really be there
                results[(case[0], "placements")] = str(model[0].weight.placements)
    # check_seed: one rank disagrees
    try:
        fki.init_module_(small_model(), seed=rank % 2 if world > 1 else 5, check_seed=True)
        results["check_seed"] = None
    except ValueError as e:
        results["check_seed"] = str(e)
    return results


def worker(rank, world, port, outdir, isas):
    """One rank: run every case; rank 0 saves the digests, any rank its traceback."""
    out = pathlib.Path(outdir)
    try:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        import datetime

        import torch.distributed as dist

        dist.init_process_group("gloo", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=120))  # fmt: skip
        torch.set_num_threads(1)
        logging.getLogger("torch.distributed.tensor._redistribute").setLevel(logging.ERROR)
        results = _run_all(rank, world, isas)
        dist.barrier()
        dist.destroy_process_group()
        if rank == 0:
            torch.save(results, out / "results.pt")
    except BaseException:
        (out / f"error-rank{rank}.txt").write_text(traceback.format_exc())
        raise


# -- FSDP2's unsharded state and check_seed's group (tests/test_fsdp_state.py) ---------------

def _outcome(fill):
    """None if `fill()` returns, else its exception's type name and message."""
    try:
        fill()
    except (ValueError, TypeError, RuntimeError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def _weights(model):
    return {n: _whole_digest(p) for n, p in model.named_parameters()}


def state_model():
    return torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.LayerNorm(4))


def fsdp_state_cases(mesh, tp_mesh=None):
    """A model sharded with reshard_after_forward=False (over TP when `tp_mesh` is given), after
    a forward: what init_module_ and the fills do while FSDP2 holds it unsharded, the weights
    then, and after reshard() on every FSDP module and init_module_ again."""
    from torch.distributed.fsdp import FSDPModule, fully_shard
    from torch.distributed.tensor import Replicate
    from torch.distributed.tensor.parallel import ColwiseParallel, parallelize_module

    with torch.device("meta"):
        model = state_model()
    if tp_mesh is not None:
        parallelize_module(model, tp_mesh, {"0": ColwiseParallel(output_layouts=Replicate())})
    fully_shard(model[0], mesh=mesh, reshard_after_forward=False)
    fully_shard(model, mesh=mesh, reshard_after_forward=False)
    model.to_empty(device="cpu")
    fki.init_module_(model, seed=0)
    out = {"sharded": _weights(model)}
    model(torch.ones(2, 6))
    out["held"] = type(model[0].weight).__name__
    out["init_module_"] = _outcome(lambda: fki.init_module_(model, seed=1))
    out["init_module_ on a part"] = _outcome(lambda: fki.init_module_(model[1], seed=1, prefix="1"))
    out["fk.normal_"] = _outcome(lambda: fk.normal_(model[0].weight, seed=1))
    out["normal_ on .data"] = _outcome(lambda: fki.normal_(model[1].weight.data, seed=1))
    out["ones_"] = _outcome(lambda: fki.ones_(model[1].weight))
    weight = model[0].weight
    local = weight.to_local() if _routing.is_dtensor(weight) else weight  # same memory
    out["kaiming_uniform_ on a view"] = _outcome(lambda: fki.kaiming_uniform_(local[:2], seed=1))
    for m in model.modules():
        if isinstance(m, FSDPModule):
            m.reshard()
    out["after reshard"] = _weights(model)
    out["reinit"] = _outcome(lambda: fki.init_module_(model, seed=1))
    out["reinit weights"] = _weights(model)
    return out


def check_seed_cases(rank, world):
    """check_seed with group=: a group of rank 0 only; the default group when rank 1 does not
    come (and, at the same time, a second group of both when rank 0 does not); a group this rank
    is not in."""
    import torch.distributed as dist

    only_first = dist.new_group([0])
    both = dist.new_group(list(range(world)))
    fresh = dist.new_group(list(range(world)))  # after a timeout, a group's calls no longer pair up
    out = {}
    if rank == 0:
        out["own group"] = _outcome(lambda: fki.init_module_(state_model(), seed=5, check_seed=True,
                                                             group=only_first))  # fmt: skip
        out["missing"] = _outcome(lambda: fki.init_module_(state_model(), seed=5, check_seed=True, timeout=2))
    elif rank == 1:
        out["missing"] = _outcome(lambda: fki.init_module_(state_model(), seed=5, check_seed=True,
                                                           group=both, timeout=2))  # fmt: skip
        out["not a member"] = _outcome(lambda: fki.init_module_(state_model(), seed=5, check_seed=True,
                                                                group=only_first))  # fmt: skip
    dist.barrier()  # the store-based check leaves the group usable
    out["agree"] = _outcome(lambda: fki.init_module_(state_model(), seed=9, check_seed=True, group=fresh))
    return out


def state_worker(rank, world, port, outdir):
    """One rank of tests/test_fsdp_state.py: every rank saves its results, any rank its traceback."""
    out = pathlib.Path(outdir)
    try:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        import datetime

        import torch.distributed as dist
        from torch.distributed.device_mesh import init_device_mesh

        dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=60))
        torch.set_num_threads(1)
        logging.getLogger("torch.distributed.tensor._redistribute").setLevel(logging.ERROR)
        results = {"fsdp": fsdp_state_cases(init_device_mesh("cpu", (world,)))}
        mesh = init_device_mesh("cpu", (1, world), mesh_dim_names=("dp", "tp"))
        results["fsdp_tp"] = fsdp_state_cases(mesh["dp"], mesh["tp"])
        results["check_seed"] = check_seed_cases(rank, world)
        dist.barrier()
        dist.destroy_process_group()
        torch.save(results, out / f"results-{rank}.pt")
    except BaseException:
        (out / f"error-rank{rank}.txt").write_text(traceback.format_exc())
        raise
