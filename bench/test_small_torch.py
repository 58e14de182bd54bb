"""Small torch tensors: the per-call cost of fastkaiming's torch intake, same run as NumPy and torch.

kaiming_normal_ on one float32 weight of 32 x 32 (4 KiB) and 64 x 64 (16 KiB): fastkaiming on the
torch tensor, fastkaiming on a NumPy array of the same shape (no torch intake), and
torch.nn.init.kaiming_normal_ on the torch tensor. Target (issue 11, item 6): the torch call within
2x of the NumPy call and faster than torch's own.

    pytest bench/test_small_torch.py --benchmark-group-by=group --benchmark-columns=median,ops
"""
import numpy as np
import pytest

import fastkaiming as fk

torch = pytest.importorskip("torch")

SHAPES = {"4KiB": (32, 32), "16KiB": (64, 64)}
IMPLS = ["fastkaiming-torch", "fastkaiming-numpy", "torch.nn.init"]


@pytest.mark.parametrize("size", list(SHAPES))
@pytest.mark.parametrize("impl", IMPLS)
def test_small_kaiming_normal(benchmark, impl, size):
    shape = SHAPES[size]
    benchmark.group = f"small-kaiming_normal-float32-{size}"
    if impl == "fastkaiming-numpy":
        buf = np.zeros(shape, np.float32)
        benchmark(lambda: fk.kaiming_normal_(buf, seed=0))
    elif impl == "fastkaiming-torch":
        t = torch.zeros(shape)
        benchmark(lambda: fk.kaiming_normal_(t, seed=0))
    else:
        t = torch.zeros(shape)
        benchmark(lambda: torch.nn.init.kaiming_normal_(t))


def test_small_parameter_with_grad(benchmark):
    """An nn.Parameter that requires grad, as init_module_ sees them (the version is bumped)."""
    p = torch.nn.Parameter(torch.zeros(64, 64))
    benchmark.group = "small-kaiming_normal-float32-16KiB"
    benchmark(lambda: fk.kaiming_normal_(p, seed=0))
