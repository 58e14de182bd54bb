"""Bounds in the subnormal range of float16 and bfloat16: every sample stays in the interval
(issue 20, item 1: bfloat16 bounds rounded inwards to subnormals that the conversion then
flushed to zero, so whole fills lay outside [a, b])."""
import numpy as np
import pytest

import fastkaiming as fk

# (dtype, mean, std, a, b): every bound below the dtype's smallest normal (bfloat16 2^-126,
# float16 2^-14), or the interval crossing it
TRUNC = [
    ("bfloat16", 1.5e-39, 1e-39, 1e-39, 2e-39), ("bfloat16", 1e-38, 1e-38, 5e-39, 2e-38),
    ("bfloat16", 0.0, 1e-39, -3e-39, 2e-39),
    ("float16", 3e-6, 2e-6, 1e-6, 5e-6), ("float16", 4e-5, 3e-5, 1e-5, 9e-5),
    ("float16", 0.0, 1e-6, -3e-6, 2e-6),
]  # fmt: skip
# (dtype, a, b): uniform_'s samples lie in [a, b] as rounded (to nearest) to the dtype
UNIFORM = [("bfloat16", 5e-39, 2e-38), ("bfloat16", -2e-38, 1e-39), ("float16", 1e-7, 5e-6),
           ("float16", -3e-5, 1e-7)]  # fmt: skip


def decoded(raw, dtype):
    bits = np.frombuffer(raw, np.uint16)
    if dtype == "bfloat16":
        return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return bits.view(np.float16).astype(np.float64)


def rounded(x, dtype):
    """x rounded to the nearest value of the dtype (bfloat16: ties to even on the bits)."""
    if dtype == "float16":
        return float(np.float16(x))
    bits = int(np.float32(x).view(np.uint32))
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
    return float(np.uint32(bits).view(np.float32))


@pytest.mark.parametrize("dtype,mean,std,a,b", TRUNC)
def test_trunc_normal_stays_in_subnormal_bounds(dtype, mean, std, a, b, isa):
    x = decoded(fk.trunc_normal_(bytearray(4000), mean, std, a, b, seed=0, dtype=dtype), dtype)
    assert a <= x.min() and x.max() <= b, (x.min(), x.max())
    assert len(np.unique(x)) >= 5  # a spread of subnormals, not one value


@pytest.mark.parametrize("dtype,a,b", UNIFORM)
def test_uniform_stays_in_subnormal_bounds(dtype, a, b, isa):
    x = decoded(fk.uniform_(bytearray(4000), a, b, seed=0, dtype=dtype), dtype)
    lo, hi = rounded(a, dtype), rounded(b, dtype)
    assert lo <= x.min() and x.max() <= hi, (x.min(), x.max(), lo, hi)
    if a > 0:
        assert (x > 0).all()  # none flushed to zero
    assert len(np.unique(x)) >= 5


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_drop_in_stays_in_subnormal_bounds(dtype):
    torch = pytest.importorskip("torch")
    import fastkaiming.torch as fkt

    mean, std, a, b = next(case[1:] for case in TRUNC if case[0] == dtype)
    t = fkt.trunc_normal_(torch.empty(2000, dtype=getattr(torch, dtype)), mean, std, a, b, seed=0)
    x = t.double()
    assert a <= x.min().item() and x.max().item() <= b
    _, ua, ub = next(case for case in UNIFORM if case[0] == dtype)
    u = fkt.uniform_(torch.empty(2000, dtype=getattr(torch, dtype)), ua, ub, seed=0).double()
    assert rounded(ua, dtype) <= u.min().item() and u.max().item() <= rounded(ub, dtype)
    assert (u > 0).all()
