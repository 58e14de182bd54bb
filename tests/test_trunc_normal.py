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


def bounds(a, b, dtype):
    """The clamp bounds trunc_normal_ uses: the dtype's values nearest a and b inside."""
    if dtype == "float64":
        return a, b
    lo, hi = np.float32(a), np.float32(b)
    lo = lo if lo >= a else np.nextafter(lo, np.float32(np.inf))
    hi = hi if hi <= b else np.nextafter(hi, np.float32(-np.inf))
    return float(lo), float(hi)


# (mean, std, a, b): central, untruncated (torch's default bounds), both tails, mirrored,
# straddling asymmetrically, far tails (the far branch of each sampler)
INTERVALS = [
    (0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -2.0, 2.0), (0.5, 2.0, -1.0, 3.0), (0.0, 1.0, 2.0, 3.0),
    (0.0, 1.0, -6.0, -5.0), (0.0, 1.0, -12.5, -5.5), (1.0, 3.0, 20.0, 40.0),
    (0.0, 1.0, -12.9, -12.8), (0.0, 1.0, -0.1, 30.0), (0.0, 1.0, -1e-5, 1e-5), (0.0, 1.0, 0.0, 1e-4),
    (0.0, 1.0, -12.5, -11.5), (0.0, 1.0, -0.3, 0.3),
]  # fmt: skip


@pytest.mark.parametrize("mean,std,a,b", INTERVALS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_reference_model(dtype, mean, std, a, b):
    n = 4099 if dtype == "float32" else 300
    lo, hi = bounds(a, b, dtype)
    want, _, _ = ref.trunc_normal(7, 2, 5, n, mean, std, a, b, lo, hi, dtype)
    got = fk.trunc_normal_(np.empty(n, dtype), mean, std, a, b, seed=7, stream=2, offset=5)
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), want.astype(dtype).view(f"u{got.itemsize}"))


def ulp(x, dtype):
    """The spacing of the output dtype at x (bfloat16: float32's times 2^16)."""
    if dtype == "bfloat16":
        return np.spacing(np.abs(x).astype(np.float32)).astype(np.float64) * 65536
    return np.spacing(np.abs(x).astype(dtype)).astype(np.float64)


@pytest.mark.parametrize("mean,std,a,b", INTERVALS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_within_8_ulp_of_ndtri_of_the_same_t(dtype, mean, std, a, b):
    # the reference model knows t (the tail probability) of every sample: the sample must be
    # within 8 ulp of the output dtype of mean + s std (-ndtri(t)), computed in float64; the
    # ulp is taken at the larger of the sample and std z (when mean + std z cancels, the
    # error of z is an error at the scale of std z)
    n = 200_000 if dtype != "float64" else 20_000
    lo, hi = bounds(a, b, "float64" if dtype == "float64" else "float32")
    _, t, s = ref.trunc_normal(9, 1, 0, n, mean, std, a, b, lo, hi, "float32" if dtype != "float64" else "float64", values=False)
    scaled = s * std * -special.ndtri(t)
    exact = np.clip(mean + scaled, a, b)
    got = filled(n, dtype, mean, std, a, b, seed=9, stream=1)
    err = np.abs(got - exact) / ulp(np.maximum(np.abs(exact), np.abs(scaled)), dtype)
    assert err.max() <= 8, (err.max(), exact[err.argmax()], got[err.argmax()])
    assert got.min() >= a and got.max() <= b


@pytest.mark.parametrize("mean,std,a,b", INTERVALS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_within_8_ulp_of_ndtri_of_the_ideal_t(dtype, mean, std, a, b):
    # against t = base + H (w | 1) 2^-32 in exact arithmetic: float32 arithmetic adds the error
    # of its t (t rounded to float32, and lw = log(4t(1 - t)) to float32), which the criterion
    # for float32 arithmetic (each half holds 2^20 steps of t) keeps below 2^-20 H: at most
    # std 2^-20 H / phi(z) (measured: 2^-21.3 H / phi(z)); float64 arithmetic its own 2^-53
    n = 200_000 if dtype != "float64" else 20_000
    t, s = ref.trunc_ideal_t(9, 1, 0, n, mean, std, a, b)
    z = -special.ndtri(t)
    scaled = s * std * z
    exact = np.clip(mean + scaled, a, b)
    tail_a, tail_b, form = ref.trunc_params(mean, std, a, b)
    span = ref.trunc_halves(mean, std, tail_a, tail_b, form)[2]
    got = filled(n, dtype, mean, std, a, b, seed=9, stream=1)
    allowed = 8 * ulp(np.maximum(np.abs(exact), np.abs(scaled)), dtype)
    # t's own rounding: below 2^-20 H in float32 arithmetic, 2^-53 (t < 1) in float64
    allowed += std * (2.0**-52 if dtype == "float64" else 2.0**-20 * span) / stats.norm.pdf(z)
    bad = np.abs(got - exact) > allowed
    assert not bad.any(), (exact[bad][:3], got[bad][:3])


# the narrow intervals near the mean: float32 t gave 269 distinct values in 10^7
NARROW = [(-1e-5, 1e-5), (-3e-5, 3e-5), (0.0, 1e-4), (-1e-4, 1e-4)]


@pytest.mark.parametrize("a,b", NARROW)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_narrow_intervals_near_the_mean_ks(dtype, a, b):
    n = 200_000
    x = filled(n, dtype, 0.0, 1.0, a, b, seed=1)
    assert a <= x.min() and x.max() <= b
    dist = stats.truncnorm(a, b)
    if dtype == "float32":
        assert len(np.unique(x)) > 0.99 * n
        assert stats.kstest(x, dist.cdf).pvalue > 1e-4
    else:
        assert discrete_ks_pvalue(x, dist.cdf, dtype) > 1e-4


@pytest.mark.parametrize(
    "a,b,float64",
    [(-2.0, 2.0, False), (-0.2, 0.2, False), (-0.1, 0.1, True), (-1e-5, 1e-5, True), (-3.0, -2.0, False),
     (-4.0, -3.0, True), (-12.5, -11.5, True), (-0.1, 30.0, False), (-13.2, -13.1, True)],
)  # fmt: skip
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_float64_arithmetic_where_float32_resolves_t_too_coarsely(dtype, a, b, float64):
    # form bit 2: fewer than 2^20 steps of t per half in float32 arithmetic (t rounded to
    # float32, relative step 2^-23; lw rounded to float32, absolute step ulp(lw)), or t < 2^-126
    form = fk._api._trunc_normal_params(0.0, 1.0, a, b, dtype)[-1]
    assert bool(form & 4) == float64
    tail_a, tail_b, f = ref.trunc_params(0.0, 1.0, a, b)
    base0, base1, span = ref.trunc_halves(0.0, 1.0, tail_a, tail_b, f)[:3]
    assert ref.trunc_float64_arithmetic(span, base0, base1) == float64
    assert not fk._api._trunc_normal_params(0.0, 1.0, a, b, "float64")[-1] & 4


def test_far_tail_interval_matches_scipy():
    # issue 10.9: [-37.4, -37] std lies where Phi(z) is 1e-300; float64 resolves it
    x = filled(100_000, "float64", 0.0, 1.0, -37.4, -37.0, seed=1)
    dist = stats.truncnorm(-37.4, -37.0)
    assert stats.kstest(x, dist.cdf).pvalue > 1e-4
    assert len(np.unique(x)) > 99_000


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("a,b", [(-40.0, -37.6), (37.6, 40.0)])
def test_beyond_the_resolved_tail_is_an_error(dtype, a, b):
    w = np.full(8, 7.0, np.float32 if dtype != "float64" else np.float64)
    with pytest.raises(ValueError, match=rf"^\[a, b\] = \[{a}, {b}\] lies too far in the tail of N\(0.0, 1.0\^2\) to sample in"):
        fk.trunc_normal_(w if dtype in ("float32", "float64") else bytearray(16), 0.0, 1.0, a, b, seed=0,
                         dtype=None if dtype in ("float32", "float64") else dtype)  # fmt: skip
    assert (w == 7.0).all()


def test_float32_beyond_its_arithmetic_computes_in_float64():
    # t below 2^-126 (|z| > 12.95): float32 arithmetic cannot resolve it, float64 does
    x = filled(100_000, "float32", 0.0, 1.0, -13.2, -13.1, seed=2)
    assert x.min() >= -13.2 and x.max() <= -13.1 and len(np.unique(x)) > 50_000  # float32 grid: 2^-20
    assert stats.kstest(x, stats.truncnorm(-13.2, -13.1).cdf).pvalue > 1e-4
    with pytest.raises(ValueError, match="2\\^-1022"):
        filled(10, "float32", 0.0, 1.0, -38.0, -37.6, seed=2)


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
        ((0.0, 1.0, -1e-17, 1e-17),
         r"^\[a, b\] = \[-1e-17, 1e-17\] is too narrow to sample from N\(0.0, 1.0\^2\) in float32: .* below what the float64 sampler resolves there; widen the interval$"),
    ],
)
def test_errors(args, message):
    w = np.full(8, 7.0, np.float32)
    with pytest.raises(ValueError, match=message):
        fk.trunc_normal_(w, *args, seed=0)
    assert (w == 7.0).all()


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "dtype,args,message",
    [
        ("float16", (1.0, 1.0, 1.0001, 1.0002),
         r"^no float16 value lies in \[a, b\] = \[1.0001, 1.0002\] \(the interval is narrower than one float16 step, 0.000977\)$"),
        ("float16", (0.0, 1e5, 7e4, 8e4),
         r"^no float16 value lies in \[a, b\] = \[70000.0, 80000.0\] \(float16 values lie in \[-65504.0, 65504.0\]\)$"),
        ("float16", (0.0, 1e5, -8e4, -7e4), r"^no float16 value lies in \[a, b\] = \[-80000.0, -70000.0\]"),
        ("float32", (0.0, 1e38, 3.5e38, 3.6e38), r"^no float32 value lies in \[a, b\]"),
        ("float32", (0.0, 1.0, 1.0 + 2**-30, 1.0 + 2**-29), r"narrower than one float32 step"),
    ],
)  # fmt: skip
def test_no_representable_value_in_the_interval(dtype, args, message):
    with pytest.raises(ValueError, match=message):
        fk.trunc_normal_(np.empty(4, dtype), *args, seed=0)


@pytest.mark.filterwarnings("error")
def test_an_interval_holding_one_value_of_the_dtype_gives_that_value():
    # issue 13.3: a narrow interval around the mean is no tail problem
    x = fk.trunc_normal_(np.empty(100, np.float16), 0.0, 1.0, -1e-9, 1e-9, seed=0)
    assert (x == 0).all()
    with pytest.raises(ValueError, match=r"too narrow to sample from N\(0.0, 1.0\^2\) in float64: .*; widen the interval$"):
        fk.trunc_normal_(np.empty(4), 0.0, 1.0, -1e-17, 1e-17, seed=0)


@pytest.mark.filterwarnings("error")
def test_bounds_beyond_the_dtype_range_are_clamped_to_it():
    x = fk.trunc_normal_(np.empty(1000, np.float16), 6e4, 1e4, 5e4, 9e4, seed=0)
    assert np.isfinite(x).all() and x.min() >= 5e4 and x.max() <= 65504


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_properties(dtype):
    # torch's test_trunc_normal: samples inside [a, b]; here also many distinct values and none
    # on a boundary (fixed seed: deterministic). float32's own grid makes about 1 % of 10^6
    # samples repeats (e.g. 8.4 M float32 values in [1, 2)); float64 repeats come from the 2^32
    # words per fill (about n^2 / 2^33 = 116 pairs)
    n = 10**6
    x = fk.trunc_normal_(np.empty(n, dtype), 0.0, 1.0, -2.0, 2.0, seed=4)
    assert x.min() > -2.0 and x.max() < 2.0
    assert len(np.unique(x)) > (0.98 * n if dtype == "float32" else n - 1000)


def test_bounds_beyond_the_dtype_truncate_to_its_range_not_pile_up_at_it():
    # N(0, 1e5^2) on [-1e5, 1e5] in float16 is the normal on the float16 range [-65504, 65504]:
    # only the values that round to +-65504 (within 16 of it) sit there, about 2e-4 of them
    h = fk.trunc_normal_(np.empty(100_000, np.float16), 0.0, 1e5, -1e5, 1e5, seed=0)
    assert np.isfinite(h).all()
    assert (np.abs(h) == 65504).mean() < 1e-3


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_parameters_beyond_float32_are_rejected_for_float32_arithmetic(dtype):
    x = np.zeros(8, dtype)
    with pytest.raises(ValueError, match=rf"std=1e\+39 is out of range for the {dtype} truncated normal"):
        fk.trunc_normal_(x, 0.0, 1e39, -1e38, 1e38, seed=0)
    with pytest.raises(ValueError, match=rf"mean=1e\+39 is out of range for the {dtype} truncated normal"):
        fk.trunc_normal_(x, 1e39, 1e38, -1.0, 1.0, seed=0)
    assert not x.any()
    y = fk.trunc_normal_(np.empty(1000), 0.0, 1e39, -1e38, 1e38, seed=0)  # float64 computes it
    assert np.abs(y).max() <= 1e38 and np.unique(y).size == 1000
