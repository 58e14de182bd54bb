"""DTensor, FSDP2 and tensor-parallel fills: full_tensor() equals the one-process fill, bit for bit.

World size 1 runs in this process (a one-rank gloo group on a HashStore); 2, 3 and 4 run once
each in spawned ranks (gloo on a free local port, every wait bounded) that run every case on
every kernel and hand the digests back through a file (tests/dist_cases.py).
"""
import math
import pathlib
import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

import dist_cases  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor  # noqa: E402

import fastkaiming as fk  # noqa: E402
import fastkaiming._api  # noqa: E402
import fastkaiming.torch as fki  # noqa: E402
from fastkaiming import _core  # noqa: E402
from fastkaiming.torch import _routing  # noqa: E402

WORLDS = (1, 2, 3, 4)
ISAS = sorted(_core.isa_names().values())
SPAWN_TIMEOUT = 420  # seconds for one world size, start to exit: 2 shared cores, 4 ranks
EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "fsdp_init.py"


@pytest.fixture(scope="module")
def group():
    """A one-rank gloo process group in this process, for world size 1 and the error cases."""
    yield from dist_cases.one_rank_mesh()


def _spawn(world):
    """Run dist_cases.worker on `world` spawned ranks; rank 0's results."""
    return dist_cases.spawn(dist_cases.worker, world, (ISAS,), SPAWN_TIMEOUT)["results.pt"]


_RESULTS = {}


def results(world, request):
    if world not in _RESULTS:
        if world == 1:
            request.getfixturevalue("group")
            saved = fastkaiming._api._ISA
            try:
                _RESULTS[1] = dist_cases._run_all(0, 1, ISAS)
            finally:
                fastkaiming._api._ISA = saved
        else:
            _RESULTS[world] = _spawn(world)
    return _RESULTS[world]


def _layouts(world):
    """Tensor cases grouped by layout (mesh, placements, shape): one test each."""
    groups = {}
    for case in dist_cases.tensor_cases(world):
        groups.setdefault(case[0].rsplit("-", 2)[0], []).append(case)
    return groups


LAYOUTS = [(w, name, cases) for w in WORLDS for name, cases in _layouts(w).items()]
MODEL_CASES = [(w, c) for w in WORLDS for c in dist_cases.model_cases(w)]


# Runs before any test that starts the one-rank group of this process.
def test_check_seed_without_a_process_group_compares_nothing():
    if dist.is_initialized():
        pytest.skip("a process group is initialized")
    model = fki.init_module_(torch.nn.Linear(3, 2), seed=4, check_seed=True)
    assert torch.equal(model.weight, fki.init_module_(torch.nn.Linear(3, 2), seed=4).weight)


@pytest.mark.parametrize("world,cases", [(w, c) for w, _, c in LAYOUTS], ids=[f"w{w}-{n}" for w, n, _ in LAYOUTS])
def test_dtensor_full_tensor_equals_plain_fill(world, cases, isa, request):
    got = results(world, request)
    ran = [case for case in cases if (case[0], isa) in got]
    if not ran:
        pytest.skip("every layout on the widest kernel; the others run four fills on three layouts")
    assert {c[0]: got[(c[0], isa)] for c in ran} == {c[0]: dist_cases.plain(c) for c in ran}
    assert all(got[(c[0], isa, "version bumped")] for c in ran), "a DTensor's autograd version was not bumped"


@pytest.mark.parametrize("world,case", MODEL_CASES, ids=[f"w{w}-{c[0]}" for w, c in MODEL_CASES])
def test_sharded_model_equals_plain_model(world, case, isa, request):
    if isa != max(ISAS):
        pytest.skip("sharded models on the widest kernel; every kernel fills DTensors above")
    got = results(world, request)[(case[0], isa)]
    assert got == dist_cases.plain_model(case)


def test_fsdp_tp_parameters_are_strided(isa, request):
    """FSDP2 over TP really produces _StridedShard, so the strided block path is exercised."""
    placements = results(4, request)[("fsdp_tp2x2-float32", "placements")]
    assert placements == "(_StridedShard(dim=0, sf=2), Shard(dim=0))"


@pytest.mark.parametrize("world", (2, 3, 4))
def test_strided_placements_give_multi_block_shards(world, isa, request):
    """_StridedShard alone or after a Shard splits a shard into several blocks (rank 0's count)."""
    blocks = {k[0]: n for k, n in results(world, request).items() if isinstance(k, tuple) and k[1:] == ("blocks",)}
    assert max(n for name, n in blocks.items() if "-SS0-1001x7" in name) == 2
    assert all(n == 1 for name, n in blocks.items() if "-S0-" in name or "-S0S1-" in name)


@pytest.mark.parametrize("world", WORLDS)
def test_check_seed_names_the_ranks_that_disagree(world, isa, request):
    message = results(world, request)["check_seed"]
    if world == 1:
        assert message is None
    else:
        ranks = ", ".join(f"rank {r}: {r % 2}" for r in range(world))
        assert message.startswith(f"the seed differs across ranks ({ranks})")


# -- in this process: one rank ----------------------------------------------------------------

def test_partial_is_rejected_before_any_write(group):
    dt = DTensor.from_local(torch.zeros(4, 3), group, [Partial()])
    with pytest.raises(ValueError, match=r"placement Partial\(sum\) on mesh dim 0 .*partial results"):
        fk.kaiming_normal_(dt, seed=0)
    assert torch.equal(dt.to_local(), torch.zeros(4, 3))


def test_dtensor_needs_an_explicit_seed(group):
    dt = distribute_tensor(torch.zeros(4, 3), group, [Shard(0)])
    with pytest.raises(ValueError, match="seed=None draws a seed from the OS on each rank"):
        fk.normal_(dt)
    with pytest.raises(ValueError, match="global_shape= and block_start= do not apply to a DTensor"):
        fk.normal_(dt, seed=0, global_shape=(8, 3))
    with pytest.raises(ValueError, match=r"std must be >= 0, got -1.0"):
        fk.normal_(dt, std=-1, seed=0)
    assert torch.equal(dt.to_local(), torch.zeros(4, 3))


def test_dtensor_parameter_checks_come_before_any_write(group):
    """A bad argument raises on every rank, also on one whose shard is empty."""
    dt = distribute_tensor(torch.zeros(4, 3, dtype=torch.float16), group, [Replicate()])
    with pytest.raises(ValueError, match="out of range for float16"):
        fk.normal_(dt, mean=1e6, seed=0)
    with pytest.raises(TypeError, match=r"dtype=float32 does not match the tensor's dtype (torch\.)?float16"):
        fk.normal_(dt, seed=0, dtype="float32")
    assert torch.equal(dt.to_local(), torch.zeros(4, 3, dtype=torch.float16))


def test_generator_stream_is_taken_once_per_dtensor_fill(group):
    g = fk.Generator(3)
    dt = distribute_tensor(torch.zeros(5, 2, dtype=torch.float16), group, [Shard(0)])
    g.fill(fk.he_normal_, dt)
    assert g.next_stream == 1
    with pytest.raises(ValueError, match="out of range for float16"):  # raised by the probe fill
        g.fill(fk.normal_, dt, mean=1e6)
    assert g.next_stream == 1


def test_zero_element_dtensor_warns_like_a_plain_tensor(group):
    dt = distribute_tensor(torch.zeros(0, 3), group, [Shard(0)])
    with pytest.warns(UserWarning, match="zero-element"):
        fk.normal_(dt, seed=0)


def test_check_seed_rejects_a_bad_seed_and_is_silent_without_a_group(group):
    with pytest.raises(TypeError, match="seed must be an int"):
        fki.init_module_(torch.nn.Linear(2, 2), seed="0", check_seed=True)
    with pytest.raises(ValueError, match="check_seed=True needs an explicit seed="):
        _routing.check_seed(None)
    _routing.check_seed(2**64 - 1)  # the full uint64 range travels as int64


def test_unwrapped_class_sees_through_fully_shard(group):
    from torch.distributed.fsdp import fully_shard

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    fully_shard(model[0], mesh=group)
    fully_shard(model, mesh=group)
    assert type(model[0]).__name__ == "FSDPLinear"
    assert [_routing.unwrapped_class(m) for m in model.modules()] == [
        torch.nn.Sequential, torch.nn.Linear, torch.nn.LayerNorm]
    assert _routing.unwrapped_class(torch.nn.Linear(2, 2)) is torch.nn.Linear


def test_routing_never_imports_torch():
    code = ("import sys, numpy as np, fastkaiming as fk; fk.normal_(np.empty(8, np.float32), seed=0); "
            "fk.normal_(bytearray(16), dtype='float32', seed=0); assert 'torch' not in sys.modules")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- host staging (the CUDA path's chunking, exercised on CPU) ---------------------------------

@pytest.mark.parametrize("shape,start,limit", [((7, 5, 3), (0, 0, 0), 4), ((7, 5, 3), (2, 1, 0), 15),
                                                ((7, 5, 3), (0, 0, 0), 16), ((4,), (3,), 3), ((), (), 1),
                                                ((3, 1, 9), (1, 0, 2), 2)])  # fmt: skip
def test_pieces_tile_the_block_exactly_once(shape, start, limit):
    seen = torch.zeros(shape, dtype=torch.int64)
    for index, piece_shape, piece_start in _routing._pieces(shape, start, limit):
        assert math.prod(piece_shape) <= limit
        assert seen[index].shape == piece_shape
        assert piece_start == tuple(s + (i.start or 0) for s, i in zip(start, index, strict=True))
        seen[index] += 1
    assert torch.all(seen == 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("chunk_bytes", [1, 24, 1000, 1 << 20])
def test_staged_fill_equals_direct_fill(dtype, chunk_bytes, isa):
    whole = (9, 8, 5)
    start = (2, 1, 0)
    dest = torch.zeros(12, 5, 6, dtype=dtype).transpose(1, 2)[3:8]  # strided: (5, 6, 5)
    direct = torch.zeros(5, 6, 5, dtype=dtype)
    fk.kaiming_normal_(direct, seed=9, stream=2, global_shape=whole, block_start=start)

    def fill_piece(host, piece_start):
        assert host.is_contiguous() and host.numel() * host.element_size() <= max(chunk_bytes, 8)
        fk.kaiming_normal_(host, seed=9, stream=2, global_shape=whole, block_start=piece_start)

    _routing.staged_fill(dest, fill_piece, start, chunk_bytes=chunk_bytes)
    assert torch.equal(dest.contiguous().view(-1).view(torch.uint8), direct.view(-1).view(torch.uint8))


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_tensor_gets_the_cpu_bits(dtype, monkeypatch):
    monkeypatch.setattr(_routing, "CHUNK_BYTES", 4096)  # many chunks, both buffers reused
    t = torch.empty(300, 70, dtype=dtype, device="cuda")
    fk.trunc_normal_(t, std=0.02, seed=1)
    ref = fk.trunc_normal_(torch.empty(300, 70, dtype=dtype), std=0.02, seed=1)
    assert torch.equal(t.cpu(), ref)
    p = torch.nn.Parameter(torch.empty(64, 32, device="cuda"))
    fki.kaiming_uniform_(p, seed=3)
    assert torch.equal(p.detach().cpu(), fki.kaiming_uniform_(torch.empty(64, 32), seed=3))


# -- the example -------------------------------------------------------------------------------

@pytest.mark.skipif(not EXAMPLE.exists(), reason="needs the source tree (examples/)")
def test_fsdp_example_prints_one_digest_for_every_world_size(isa):
    if isa != max(ISAS):
        pytest.skip("one kernel is enough (the example spawns processes)")
    run = subprocess.run([sys.executable, str(EXAMPLE), "1", "2"], capture_output=True, text=True,
                         timeout=SPAWN_TIMEOUT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = re.findall(r"^\s*(\d+)\s+([0-9a-f]{16})\s+([0-9a-f]{16})\s*$", run.stdout, re.M)
    assert [int(r[0]) for r in rows] == [1, 2], run.stdout
    unsharded = re.search(r"^\s*unsharded\s+([0-9a-f]{16})", run.stdout, re.M).group(1)
    assert rows[0][1] == rows[1][1] == unsharded  # fastkaiming: one model for every world size
    assert rows[0][2] != rows[1][2]  # torch's own init: a different model


def test_init_module_needs_an_explicit_seed_on_a_sharded_model(group):
    from torch.distributed.fsdp import fully_shard

    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    fully_shard(model, mesh=group)
    before = model[0].weight.full_tensor().clone()
    with pytest.raises(ValueError, match=r"sharded model \(DTensor parameters\) needs seed="):
        fki.init_module_(model, seed=None)
    assert torch.equal(model[0].weight.full_tensor(), before)


def test_orthogonal_and_sparse_refuse_a_dtensor_before_writing(group):
    dt = distribute_tensor(torch.zeros(4, 3), group, [Shard(0)])
    for fill, args in ((fki.orthogonal_, ()), (fki.sparse_, (0.5,))):
        with pytest.raises(TypeError, match="does not fill a DTensor's shards"):
            fill(dt, *args, seed=0)
    assert torch.equal(dt.to_local(), torch.zeros(4, 3))


def test_dirac_on_a_dtensor_is_torchs(group):
    dt = distribute_tensor(torch.full((4, 2, 3), 7.0), group, [Shard(0)])
    fki.dirac_(dt, groups=2)
    assert torch.equal(dt.full_tensor(), torch.nn.init.dirac_(torch.empty(4, 2, 3), groups=2))


def test_padding_row_of_a_sharded_embedding_is_zero(group):
    from torch.distributed.fsdp import fully_shard

    plain = torch.nn.Embedding(6, 4, padding_idx=1)
    sharded = torch.nn.Sequential(torch.nn.Embedding(6, 4, padding_idx=1))
    fully_shard(sharded, mesh=group)
    fki.init_module_(plain, seed=3, prefix="0")
    fki.init_module_(sharded, seed=3)
    whole = sharded[0].weight.full_tensor()
    assert torch.equal(whole, plain.weight.detach())
    assert not whole[1].any()
