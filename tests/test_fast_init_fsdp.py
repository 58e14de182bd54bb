"""fast_init on FSDP2: a torchtitan-style init_weights (trunc_normal_ and normal_ on DTensor
parameters) gives the same full weights on 1, 2, 3 and 4 gloo ranks as in one process.

World size 1 runs in this process (a one-rank gloo group on a HashStore); the example script
runs 1 to 4 in spawned ranks (free local port, every wait bounded) and prints the digests.
"""
import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

import torch.distributed as dist  # noqa: E402
from torch.distributed.device_mesh import init_device_mesh  # noqa: E402

from fastkaiming import _core  # noqa: E402
from fastkaiming.torch import fast_init  # noqa: E402

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "fast_init_fsdp.py"
ISAS = sorted(_core.isa_names().values())
TIMEOUT = 600  # seconds for the example: 10 processes on 2 shared cores
pytestmark = pytest.mark.skipif(not EXAMPLE.exists(), reason="needs the source tree (examples/)")


@pytest.fixture(scope="module")
def example():
    sys.path.insert(0, str(EXAMPLE.parent))  # it imports fsdp_init, beside it
    try:
        spec = importlib.util.spec_from_file_location("fast_init_fsdp", EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    return module


@pytest.fixture(scope="module")
def mesh():
    if dist.is_initialized():
        pytest.skip("a process group is already initialized in this process")
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield init_device_mesh("cpu", (1,))
    dist.destroy_process_group()


def test_one_rank_fsdp_model_equals_the_unsharded_one(example, mesh):
    model = example.sharded_model(mesh)
    assert type(model.output.weight).__name__ == "DTensor"
    with fast_init(model, seed=0, strict=True) as report:
        model.init_weights()
    assert report.routed == 2 + 7 * example.LAYERS  # embedding, 7 weights a layer, output
    assert report.passed == 0
    assert example.digest(model) == example.unsharded()


def test_fsdp_example_prints_one_digest_for_every_world_size(isa):
    if isa != max(ISAS):
        pytest.skip("one kernel is enough (the example spawns processes)")
    run = subprocess.run([sys.executable, str(EXAMPLE), "1", "2", "3", "4"], capture_output=True, text=True,
                         timeout=TIMEOUT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = re.findall(r"^\s*(\d+)\s+([0-9a-f]{16})\s+([0-9a-f]{16})\s*$", run.stdout, re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4], run.stdout
    unsharded = re.search(r"^\s*unsharded\s+([0-9a-f]{16})", run.stdout, re.M).group(1)
    assert {r[1] for r in rows} == {unsharded}  # fast_init: one model for every world size
    assert len({r[2] for r in rows}) == 4  # torch's own DTensor random ops: one per world size
