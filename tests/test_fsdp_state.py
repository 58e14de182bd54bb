"""FSDP2's unsharded state and check_seed's group= (issue 20, items 5 and 9).

After a forward with reshard_after_forward=False, FSDP2 modules hold temporary unsharded
parameters that reshard() frees: init_module_ and every fill refuse them (also FSDP2 over TP,
where the temporary is itself a DTensor), and write nothing. check_seed=True compares seeds over
group=, and names the ranks that do not come instead of hanging. One rank runs in this process;
two in spawned ranks (gloo on a free local port, every wait bounded; tests/dist_cases.py).
"""

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

import dist_cases  # noqa: E402
import torch.distributed as dist  # noqa: E402

import fastkaiming as fk  # noqa: E402
import fastkaiming.torch as fki  # noqa: E402
from fastkaiming.torch import _routing  # noqa: E402

SPAWN_TIMEOUT = 240  # seconds, start to exit: two ranks on two shared cores
HELD = r"ValueError: tensor is FSDP2's temporary unsharded copy of the parameter '{}' of a {}"
HELD_MODULE = (r"ValueError: init_module_ cannot initialize this module: the module \(FSDPSequential\) holds "
               r"FSDP2's temporary unsharded parameters .* call reshard\(\) on every FSDP module first")  # fmt: skip


@pytest.fixture(scope="module")
def one_rank():
    """A one-rank gloo process group in this process."""
    yield from dist_cases.one_rank_mesh()


_SPAWNED = {}


def two_ranks():
    """dist_cases.state_worker on two spawned ranks: each rank's results (run once)."""
    if not _SPAWNED:
        found = dist_cases.spawn(dist_cases.state_worker, 2, (), SPAWN_TIMEOUT)
        _SPAWNED.update({r: found[f"results-{r}.pt"] for r in range(2)})
    return _SPAWNED


def _plain(seed):
    """The weights of the unsharded model after init_module_(seed), as dist_cases digests them."""
    return dist_cases._weights(fki.init_module_(dist_cases.state_model(), seed=seed))


def _check_unsharded_state(got, kind):
    import re

    assert got["sharded"] == _plain(0)
    assert got["held"] == ("DTensor" if kind == "fsdp_tp" else "Parameter")
    assert re.fullmatch(HELD_MODULE + r".*", got["init_module_"], re.S)
    assert re.match(r"ValueError: init_module_ cannot initialize this module: parameter '1.weight' is FSDP2's "
                    r"temporary unsharded copy of the parameter 'weight' of a LayerNorm \(after a forward",
                    got["init_module_ on a part"])  # a module FSDP2 does not wrap itself
    assert re.match(HELD.format("weight", "FSDPLinear"), got["fk.normal_"])
    assert re.match(HELD.format("weight", "LayerNorm"), got["normal_ on .data"])
    assert re.match(HELD.format("weight", "LayerNorm"), got["ones_"])
    assert re.match(HELD.format("weight", "FSDPLinear"), got["kaiming_uniform_ on a view"])
    assert got["after reshard"] == _plain(0)  # nothing was written
    assert got["reinit"] is None
    assert got["reinit weights"] == _plain(1)


def test_unsharded_fsdp_parameters_are_refused_on_one_rank(one_rank):
    _check_unsharded_state(dist_cases.fsdp_state_cases(one_rank), "fsdp")


@pytest.mark.parametrize("kind", ["fsdp", "fsdp_tp"])
@pytest.mark.parametrize("rank", [0, 1])
def test_unsharded_fsdp_parameters_are_refused_on_two_ranks(kind, rank):
    _check_unsharded_state(two_ranks()[rank][kind], kind)


def test_check_seed_over_a_group_of_the_ranks_that_call_it():
    got = two_ranks()
    assert got[0]["check_seed"]["own group"] is None
    assert got[0]["check_seed"]["agree"] is None and got[1]["check_seed"]["agree"] is None


@pytest.mark.parametrize("rank, missing", [(0, 1), (1, 0)])
def test_check_seed_names_the_ranks_that_did_not_come(rank, missing):
    assert two_ranks()[rank]["check_seed"]["missing"] == (
        f"RuntimeError: check_seed: rank(s) [{missing}] of the group [0, 1] did not call "
        "init_module_(check_seed=True) within 2 s (timeout=); when only some ranks initialize "
        "this module (a pipeline stage), pass group= with exactly those ranks")


def test_check_seed_refuses_a_group_this_rank_is_not_in():
    assert two_ranks()[1]["check_seed"]["not a member"] == (
        "ValueError: group= is a group this rank (1) is not a member of: pass "
        "init_module_(check_seed=True) a group of the ranks that call it")


def test_check_seed_arguments(one_rank):
    model = dist_cases.state_model()
    with pytest.raises(TypeError, match="group must be a torch.distributed ProcessGroup or None, got str"):
        fki.init_module_(model, seed=0, check_seed=True, group="world")
    for bad, match in ((0, "timeout must be a number of seconds > 0, got 0"), (-1.0, "> 0, got -1.0"),
                       (float("inf"), "timeout must be finite, got inf"), (float("nan"), "finite, got nan")):
        with pytest.raises(ValueError, match=match):
            fki.init_module_(model, seed=0, check_seed=True, timeout=bad)
    with pytest.raises(TypeError, match="timeout must be"):
        fki.init_module_(model, seed=0, check_seed=True, timeout="5")
    with pytest.raises(ValueError, match="group= and timeout= apply to check_seed=True only"):
        fki.init_module_(model, seed=0, group=dist.group.WORLD)
    with pytest.raises(ValueError, match="group= and timeout= apply to check_seed=True only"):
        fki.init_module_(model, seed=0, timeout=5)
    fki.init_module_(model, seed=0, check_seed=True, group=dist.group.WORLD, timeout=5)
    assert torch.equal(model[0].weight, fki.init_module_(dist_cases.state_model(), seed=0)[0].weight)


def test_a_module_state_from_another_torch_is_judged_by_its_parameters(one_rank, monkeypatch):
    """Without readable FSDP2 internals, a wrapped module holding a plain Parameter is refused."""
    from torch.distributed.fsdp import fully_shard

    model = dist_cases.state_model()
    fully_shard(model, mesh=one_rank, reshard_after_forward=False)
    monkeypatch.setattr(_routing, "fsdp_state", lambda module: None)
    fki.init_module_(model, seed=0)  # sharded: DTensors
    model(torch.ones(1, 6))
    with pytest.raises(ValueError, match=r"the module \(FSDPSequential\) holds FSDP2's temporary"):
        fki.init_module_(model, seed=0)
    model.reshard()
    fki.init_module_(model, seed=0)


def test_a_clone_of_an_unsharded_parameter_is_the_caller_s_own(one_rank):
    from torch.distributed.fsdp import fully_shard

    model = dist_cases.state_model()
    fully_shard(model, mesh=one_rank, reshard_after_forward=False)
    model(torch.ones(1, 6))
    copy = model[0].weight.detach().clone()
    fk.normal_(copy, seed=0)
    assert torch.equal(copy, fk.normal_(torch.empty(4, 6), seed=0))
    model.reshard()
