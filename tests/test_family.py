"""The variance-scaling family (Keras/JAX), torch's Xavier fills, and the constructors."""
import math

import numpy as np
import pytest

import fastkaiming as fk

stats = pytest.importorskip("scipy.stats")

C = 0.87962566103423978


def bits(x):
    return np.ascontiguousarray(x).view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


# shape, kwargs, fan (Keras layout: (..., in, out); a vector of n counts as n x n)
FANS = [
    ((30, 20), {}, 30),
    ((30, 20), {"mode": "fan_out"}, 20),
    ((30, 20), {"mode": "fan_avg"}, 25),
    ((3, 3, 8, 16), {}, 72),
    ((3, 3, 8, 16), {"mode": "fan_out"}, 144),
    ((7,), {}, 7),
    ((64, 5), {"in_axis": 1, "out_axis": 0}, 5),  # torch layout on request
    ((10, 10), {"fan_in": 40}, 40),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape,kwargs,fan", FANS)
@pytest.mark.parametrize("scale", [1.0, 2.0, 0.1])
def test_variance_scaling_is_the_documented_fill(shape, kwargs, fan, scale, dtype):
    variance = scale / fan
    for distribution, ref in (
        ("truncated_normal", lambda t: fk.trunc_normal_(t, 0.0, math.sqrt(variance) / C,
                                                        -2 * math.sqrt(variance) / C,
                                                        2 * math.sqrt(variance) / C, seed=4)),
        ("normal", lambda t: fk.normal_(t, 0.0, math.sqrt(variance), seed=4)),
        ("untruncated_normal", lambda t: fk.normal_(t, 0.0, math.sqrt(variance), seed=4)),
        ("uniform", lambda t: fk.uniform_(t, -math.sqrt(3 * variance), math.sqrt(3 * variance), seed=4)),
    ):  # fmt: skip
        got = fk.variance_scaling_(np.empty(shape, dtype), scale, distribution=distribution, seed=4, **kwargs)
        np.testing.assert_array_equal(bits(got), bits(ref(np.empty(shape, dtype))), err_msg=distribution)


NAMED = [
    (fk.he_normal_, 2.0, "fan_in", "truncated_normal"),
    (fk.he_uniform_, 2.0, "fan_in", "uniform"),
    (fk.glorot_normal_, 1.0, "fan_avg", "truncated_normal"),
    (fk.glorot_uniform_, 1.0, "fan_avg", "uniform"),
    (fk.lecun_normal_, 1.0, "fan_in", "truncated_normal"),
    (fk.lecun_uniform_, 1.0, "fan_in", "uniform"),
]


@pytest.mark.parametrize("fill,scale,mode,distribution", NAMED)
def test_named_initializers(fill, scale, mode, distribution):
    got = fill(np.empty((3, 3, 16, 32), np.float32), seed=1, stream=2)
    ref = fk.variance_scaling_(np.empty((3, 3, 16, 32), np.float32), scale, mode, distribution, seed=1, stream=2)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_he_normal_distribution_and_variance(dtype):
    n = 512 * 1024
    raw = bytearray(n * (2 if dtype in ("float16", "bfloat16") else np.dtype(dtype).itemsize))
    fk.he_normal_(raw, fan_in=256, fan_out=256, seed=7, dtype=dtype)
    if dtype == "bfloat16":
        x = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    else:
        x = np.frombuffer(raw, dtype).astype(np.float64)
    std = math.sqrt(2.0 / 256)
    assert abs(x.var() - std**2) < 5 * std**2 * math.sqrt(2 / n)  # truncation keeps the variance
    assert np.abs(x).max() <= 2 * std / C
    if dtype in ("float32", "float64"):
        assert stats.kstest(x, stats.truncnorm(-2, 2, scale=std / C).cdf).pvalue > 1e-4


def test_xavier_matches_torch_formulas():
    shape = (64, 32, 3, 3)
    fan_in, fan_out = 32 * 9, 64 * 9
    std = 1.5 * math.sqrt(2.0 / float(fan_in + fan_out))
    got = fk.xavier_normal_(np.empty(shape, np.float32), gain=1.5, seed=3)
    np.testing.assert_array_equal(got, fk.normal_(np.empty(shape, np.float32), 0.0, std, seed=3))
    a = math.sqrt(3.0) * std
    got = fk.xavier_uniform_(np.empty(shape, np.float32), gain=1.5, seed=3)
    np.testing.assert_array_equal(got, fk.uniform_(np.empty(shape, np.float32), -a, a, seed=3))


@pytest.mark.parametrize(
    "call,exc,message",
    [
        (lambda w: fk.variance_scaling_(w, 0.0), ValueError, r"^scale must be > 0, got 0.0$"),
        (lambda w: fk.variance_scaling_(w, distribution="gaussian"), ValueError,
         r"^distribution must be one of 'truncated_normal', 'normal', 'untruncated_normal', 'uniform', got 'gaussian'$"),
        (lambda w: fk.he_normal_(w, fan_in=0), ValueError, r"^fan_in must be a positive int, got 0$"),
        (lambda w: fk.xavier_normal_(w, gain=-1.0), ValueError, r"^gain must be >= 0, got -1.0$"),
        (lambda w: fk.glorot_uniform_(w, mode="fan_in"), TypeError, "unexpected keyword argument 'mode'"),
    ],
)  # fmt: skip
def test_errors(call, exc, message):
    w = np.full((4, 4), 7.0, np.float32)
    with pytest.raises(exc, match=message):
        call(w)
    assert (w == 7.0).all()


@pytest.mark.parametrize(
    "make,fill",
    [(fk.kaiming_normal, fk.kaiming_normal_), (fk.kaiming_uniform, fk.kaiming_uniform_),
     (fk.he_normal, fk.he_normal_), (fk.glorot_uniform, fk.glorot_uniform_),
     (fk.lecun_normal, fk.lecun_normal_), (fk.xavier_normal, fk.xavier_normal_),
     (fk.trunc_normal, fk.trunc_normal_), (fk.normal, fk.normal_), (fk.uniform, fk.uniform_),
     (fk.variance_scaling, fk.variance_scaling_), (fk.he_uniform, fk.he_uniform_),
     (fk.glorot_normal, fk.glorot_normal_), (fk.lecun_uniform, fk.lecun_uniform_),
     (fk.xavier_uniform, fk.xavier_uniform_)],
)  # fmt: skip
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_constructors(make, fill, dtype):
    got = make((48, 16), dtype, seed=5, stream=1)
    assert isinstance(got, np.ndarray) and got.shape == (48, 16) and got.dtype == dtype
    np.testing.assert_array_equal(bits(got), bits(fill(np.empty((48, 16), dtype), seed=5, stream=1)))
    assert make.__name__ == fill.__name__.rstrip("_")


def test_constructor_bfloat16_and_errors():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    w = fk.kaiming_normal((8, 8), "bfloat16", seed=1)
    assert w.dtype == ml_dtypes.bfloat16
    with pytest.raises(ValueError, match="negative dimensions"):
        fk.he_normal((3, -1))
    with pytest.raises(TypeError, match="dtype must be one of float16, float32, float64, bfloat16, got 'int32'"):
        fk.he_normal((3, 3), "int32")
    with pytest.raises(TypeError, match="shape must be an int or a sequence of ints"):
        fk.he_normal((3.0, 3))


def test_generator_fill_takes_any_initializer():
    g = fk.Generator(9)
    a = g.fill(fk.he_normal_, np.empty((8, 8), np.float32))
    b = g.fill(fk.trunc_normal_, np.empty(16), 0.0, 1.0, -1.0, 1.0)
    assert g.next_stream == 2
    np.testing.assert_array_equal(a, fk.he_normal_(np.empty((8, 8), np.float32), seed=9, stream=0))
    np.testing.assert_array_equal(b, fk.trunc_normal_(np.empty(16), 0.0, 1.0, -1.0, 1.0, seed=9, stream=1))
