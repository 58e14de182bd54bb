"""Truncated normal by inverse CDF (AS241): accuracy, distribution, bounds, errors."""
import math

import numpy as np
import pytest

import fastkaiming as fk
import reference as ref

stats = pytest.importorskip("scipy.stats")
special = pytest.importorskip("scipy.special")

DTYPES = ["float16", "float32", "float64", "bfloat16"]


def filled(n, dtype, *args, **kw):
    """A trunc_normal_ fill as float64, bfloat16 decoded through its bits."""
    if dtype == "bfloat16":
        raw = bytearray(2 * n)
        fk.trunc_normal_(raw, *args, dtype="bfloat16", **kw)
        bits = np.frombuffer(raw, np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64)
    return fk.trunc_normal_(np.empty(n, dtype), *args, **kw).astype(np.float64)


def neighbours(g, dtype):
    """The 16-bit values just below and just above each grid value g (as float64)."""
    if dtype == "float16":
        h = g.astype(np.float16)
        return (np.nextafter(h, np.float16(-np.inf)).astype(np.float64),
                np.nextafter(h, np.float16(np.inf)).astype(np.float64))  # fmt: skip
    bits = g.astype(np.float32).view(np.uint32).astype(np.int64)
    step = np.where(g >= 0, 0x10000, -0x10000)
    down = ((bits - step) & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
    up = ((bits + step) & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
    return down.astype(np.float64), up.astype(np.float64)


def discrete_ks_pvalue(x, cdf, dtype):
    """KS p-value of samples on a 16-bit grid against the law of cdf's samples rounded to that
    grid: the mass of grid value g is cdf's mass between the rounding edges around g."""
    grid, counts = np.unique(x, return_counts=True)
    down, up = neighbours(grid, dtype)
    ecdf = np.cumsum(counts) / x.size
    ecdf_before = ecdf - counts / x.size
    d = max(np.abs(ecdf - cdf((grid + up) / 2)).max(), np.abs(ecdf_before - cdf((grid + down) / 2)).max())
    return stats.kstwo.sf(d, x.size)


def test_inverse_cdf_matches_scipy_ndtri():
    # a = -50, b = 50: Phi(a) underflows to 0 and the span is 1, so sample i is ndtri(v_i)
    n = 200_000
    words = fk.random_raw(np.empty(n, np.uint32), seed=11, stream=4).astype(np.float64)
    v = (2 * words + 1) * 2.0**-33
    got = fk.trunc_normal_(np.empty(n), 0.0, 1.0, -50.0, 50.0, seed=11, stream=4)
    want = special.ndtri(v)
    np.testing.assert_allclose(got, want, rtol=2e-14, atol=2e-15)
    assert np.abs(got).max() > 4.5  # the tail branch of AS241 was exercised


def test_far_tail_interval_matches_scipy():
    # [7, 8] lies above the mean: sampled mirrored, p in (Phi(-8), Phi(-7)), the r > 5 branch
    n = 100_000
    words = fk.random_raw(np.empty(n, np.uint32), seed=12).astype(np.float64)
    v = (2 * words + 1) * 2.0**-33
    p_lo, p_hi = special.ndtr(-8.0), special.ndtr(-7.0)
    want = -special.ndtri(p_lo + (p_hi - p_lo) * v)
    got = fk.trunc_normal_(np.empty(n), 0.0, 1.0, 7.0, 8.0, seed=12)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert got.min() >= 7.0 and got.max() <= 8.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "mean,std,a,b",
    [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 3.0), (0.0, 1.0, 2.5, 4.0), (0.0, 1.0, -6.0, -5.0),
     (0.0, 0.01, -0.02, 0.02), (1.0, 1e-4, 0.99995, 1.0002)],
)  # fmt: skip
def test_ks_against_scipy_truncnorm(dtype, mean, std, a, b):
    x = filled(200_000, dtype, mean, std, a, b, seed=3)
    assert x.min() >= a and x.max() <= b
    dist = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    if dtype in ("float16", "bfloat16"):
        # a 16-bit grid is coarse against the distribution: test against the law of the
        # rounded values (KS on a discrete law, conservative)
        assert discrete_ks_pvalue(x, dist.cdf, dtype) > 1e-4
    else:
        assert stats.kstest(x, dist.cdf).pvalue > 1e-4


def test_bounds_never_crossed_in_1e8_samples(isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("one kernel is enough: every kernel gives the same bits (test_dispatch.py)")
    n = 10**8
    for dtype, (mean, std, a, b) in {
        "float16": (0.1, 1.0, -0.3, 0.7),  # bounds that float16 cannot represent
        "float32": (0.0, 0.02, -0.04, 0.04),
    }.items():
        x = fk.trunc_normal_(np.empty(n, dtype), mean, std, a, b, seed=5)
        assert float(x.min()) >= a and float(x.max()) <= b, dtype
        assert np.isfinite(x).all()


def test_keras_constant_is_the_std_of_the_truncated_unit_normal():
    assert stats.truncnorm(-2, 2).std() == pytest.approx(0.87962566103423978, rel=1e-15)


def test_float16_is_the_float32_sample_rounded_once():
    f32 = fk.trunc_normal_(np.empty(4099, np.float32), 0.2, 0.7, -1.0, 1.5, seed=2, offset=3)
    f16 = fk.trunc_normal_(np.empty(4099, np.float16), 0.2, 0.7, -1.0, 1.5, seed=2, offset=3)
    bounded = np.clip(f32.astype(np.float16), np.float16(-1.0), np.float16(1.5))
    np.testing.assert_array_equal(f16.view(np.uint16), bounded.view(np.uint16))
    raw = bytearray(2 * 4099)
    fk.trunc_normal_(raw, 0.2, 0.7, -1.0, 1.5, seed=2, offset=3, dtype="bfloat16")
    np.testing.assert_array_equal(np.frombuffer(raw, np.uint16), ref.bf16_bits(f32))


def test_mean_of_a_one_sided_tail():
    x = filled(10**6, "float64", 0.0, 1.0, 3.0, 40.0, seed=8)
    # E[Z | Z > 3] = phi(3) / (1 - Phi(3))
    expected = math.exp(-4.5) / math.sqrt(2 * math.pi) / (0.5 * math.erfc(3 / math.sqrt(2)))
    assert abs(x.mean() - expected) < 5 * x.std() / math.sqrt(x.size)


@pytest.mark.parametrize(
    "args,message",
    [
        ((0.0, 0.0), r"^std must be > 0, got 0.0$"),
        ((0.0, -1.0), r"^std must be > 0, got -1.0$"),
        ((0.0, 1.0, 1.0, 1.0), r"^trunc_normal_ expects a < b, got a=1.0, b=1.0$"),
        ((0.0, 1.0, math.nan), r"^a must be finite, got nan$"),
        ((0.0, 1.0, 50.0, 60.0), r"lies too far in the tail of N\(0.0, 1.0\^2\)"),
    ],
)
def test_errors(args, message):
    w = np.full(8, 7.0, np.float32)
    with pytest.raises(ValueError, match=message):
        fk.trunc_normal_(w, *args, seed=0)
    assert (w == 7.0).all()


def test_no_representable_value_in_the_interval():
    with pytest.raises(ValueError, match=r"^no float16 value lies in \[a, b\] = \[1.0001, 1.0002\]$"):
        fk.trunc_normal_(np.empty(4, np.float16), 1.0, 1.0, 1.0001, 1.0002, seed=0)
