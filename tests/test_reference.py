"""The native fills against the independent NumPy model in tests/reference.py, bit for bit."""
from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest

import fastkaiming as fk
import reference as ref  # tests/ is on sys.path (rootdir-relative, no package)

BITS = {np.dtype(np.float16): np.uint16, np.dtype(np.float32): np.uint32,
        np.dtype(np.float64): np.uint64, np.dtype(np.uint32): np.uint32}
U64_MAX = 2**64 - 1
CARRY = 4 * (2**32 - 3)  # three blocks before the block counter's low word wraps


def assert_same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal bits: catches -0.0 vs 0.0 and NaN payloads."""
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    view = BITS[actual.dtype]
    np.testing.assert_array_equal(np.ascontiguousarray(actual).view(view),
                                  np.ascontiguousarray(expected).view(view))


# ---- the model itself ----------------------------------------------------------------------

# Random123 kat_vectors, philox4x32 10: counter, key, output
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


def test_model_philox_known_answers():
    ctr = np.array([c for c, _, _ in KAT], dtype=np.uint32)
    for i, (_, key, out) in enumerate(KAT):
        got = ref.philox4x32_10(ctr[i : i + 1], key)
        np.testing.assert_array_equal(got[0], np.array(out, dtype=np.uint32))


def _round_f32(q: Fraction) -> float:
    """Exact value q rounded to float32 (normal range, ties to even), via integers."""
    if q == 0:
        return 0.0
    sign = -1 if q < 0 else 1
    q = abs(q)
    e = math.floor(math.log2(q))
    while Fraction(2) ** e > q:
        e -= 1
    while Fraction(2) ** (e + 1) <= q:
        e += 1
    scaled = q / Fraction(2) ** (e - 23)  # in [2^23, 2^24)
    k, rem = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * rem
    if twice > scaled.denominator or (twice == scaled.denominator and k & 1):
        k += 1
    return sign * float(Fraction(k) * Fraction(2) ** (e - 23))


def test_model_fma32_is_correctly_rounded():
    rng = random.Random(1)
    a, b, c = [], [], []
    for _ in range(3000):
        x = np.float32(rng.uniform(-4, 4))
        y = np.float32(rng.uniform(-4, 4))
        p = float(x) * float(y)
        # c near -p so the sum is small, or c just off a float32 midpoint of p
        kind = rng.randrange(3)
        if kind == 0:
            z = np.float32(-p * (1 + rng.uniform(-1e-6, 1e-6)))
        elif kind == 1:
            z = np.float32(rng.uniform(-4, 4))
        else:
            z = np.float32(rng.choice([1, -1]) * 2.0 ** rng.randrange(-40, 4))
        a.append(x)
        b.append(y)
        c.append(z)
    # double-rounding traps: p + c one tiny term past a float32 midpoint
    for sgn in (1, -1):
        a.append(np.float32(1 + 2.0**-23))
        b.append(np.float32(1 + 2.0**-23))  # p = 1 + 2^-22 + 2^-46
        c.append(np.float32(sgn * 2.0**-24))
    a, b, c = (np.array(v, dtype=np.float32) for v in (a, b, c))
    got = ref.fma32(a, b, c)
    want = np.array([_round_f32(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))
                     for x, y, z in zip(a, b, c, strict=True)], dtype=np.float64).astype(np.float32)
    assert_same_bits(got, want)


def test_model_fma64_signed_zero_and_rounding():
    assert math.copysign(1, ref.fma64(-0.0, 1.0, -0.0)) == -1
    assert math.copysign(1, ref.fma64(0.0, 1.0, -0.0)) == 1
    assert math.copysign(1, ref.fma64(2.0, 3.0, -6.0)) == 1
    # 1 + 2^-52 squared = 1 + 2^-51 + 2^-104: the 2^-104 decides the rounding
    x = 1 + 2.0**-52
    assert ref.fma64(x, x, -(1 + 2.0**-51)) == 2.0**-104
    # 1 + 2^-51 + 2^-53 + 2^-104: just past the midpoint, rounds up (unfused gives 1 + 2^-51)
    assert ref.fma64(x, x, 2.0**-53) == 1 + 3 * 2.0**-52


# ---- raw words -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed, stream, offset, n", [
    (0, 0, 0, 64),
    (1, 0, 1, 101),
    (0x0123456789ABCDEF, 5, 3, 1000),
    (U64_MAX, U64_MAX, 7, 257),
    (42, 2**32 + 1, CARRY, 40),
    (42, 3, CARRY + 1, 39),
    (7, 9, CARRY + 3, 33),
    (7, 9, 4 * 2**64 - 50, 50),  # last block of the stream
])
def test_random_raw(seed, stream, offset, n):
    out = np.empty(n, dtype=np.uint32)
    assert fk.random_raw(out, seed=seed, stream=stream, offset=offset) is out
    assert_same_bits(out, ref.words(seed, stream, offset, n))


def test_words_consistent_with_blocks():
    # word j of the stream is lane j % 4 of block j // 4
    w = ref.words(3, 4, 0, 40)
    np.testing.assert_array_equal(w.reshape(10, 4), ref.blocks(3, 4, 0, 10))
    np.testing.assert_array_equal(ref.words(3, 4, 5, 30), w[5:35])


# ---- normal_ and uniform_ ------------------------------------------------------------------

SEEDS = [(0, 0), (12345, 1), (U64_MAX, 7), (2**63 + 11, 2**40 + 3)]
OFFSETS = [0, 1, 3, 5, 7]


def _fill(fn, dtype, n, *args, seed, stream, offset):
    arr = np.empty(n, dtype=dtype)
    assert fn(arr, *args, seed=seed, stream=stream, offset=offset) is arr
    return arr


@pytest.mark.parametrize("dtype, n", [(np.float32, 4099), (np.float16, 2051)])
@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("seed, stream", SEEDS)
def test_normal_f32_f16(dtype, n, offset, seed, stream):
    for mean, std in ((0.0, 1.0), (0.25, 1.7), (-3.0, 0.02)):
        got = _fill(fk.normal_, dtype, n, mean, std, seed=seed, stream=stream, offset=offset)
        assert_same_bits(got, ref.normal(seed, stream, offset, n, mean, std, dtype))


@pytest.mark.parametrize("dtype, n", [(np.float32, 4099), (np.float16, 2051)])
@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("seed, stream", SEEDS)
def test_uniform_f32_f16(dtype, n, offset, seed, stream):
    for a, b in ((0.0, 1.0), (-0.3, 2.5), (-1e-3, 1e-3), (5.0, 5.0)):
        got = _fill(fk.uniform_, dtype, n, a, b, seed=seed, stream=stream, offset=offset)
        assert_same_bits(got, ref.uniform(seed, stream, offset, n, a, b, dtype))


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("seed, stream", SEEDS[1:3])
def test_normal_uniform_f64(offset, seed, stream):
    n = 201
    got = _fill(fk.normal_, np.float64, n, 0.25, 1.7, seed=seed, stream=stream, offset=offset)
    assert_same_bits(got, ref.normal(seed, stream, offset, n, 0.25, 1.7, np.float64))
    got = _fill(fk.uniform_, np.float64, n, -0.3, 2.5, seed=seed, stream=stream, offset=offset)
    assert_same_bits(got, ref.uniform(seed, stream, offset, n, -0.3, 2.5, np.float64))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_across_block_counter_carry(dtype):
    per_block = 2 if dtype == np.float64 else 4
    offset = per_block * (2**32 - 3) + 1
    n = 31
    got = _fill(fk.normal_, dtype, n, 1.0, 2.0, seed=99, stream=2**33, offset=offset)
    assert_same_bits(got, ref.normal(99, 2**33, offset, n, 1.0, 2.0, dtype))
    got = _fill(fk.uniform_, dtype, n, -0.3, 2.5, seed=99, stream=2**33, offset=offset)
    assert_same_bits(got, ref.uniform(99, 2**33, offset, n, -0.3, 2.5, dtype))


@pytest.mark.parametrize("mean, std", [(0.0, 20000.0), (0.0, 1e-6), (-2.0, 3e-5)])
def test_normal_f16_overflow_and_subnormals(mean, std):
    # |x| >= 65520 rounds to inf; |x| < 2^-14 lands in binary16 subnormals or zero
    n = 4000
    got = _fill(fk.normal_, np.float16, n, mean, std, seed=5, stream=1, offset=3)
    want = ref.normal(5, 1, 3, n, mean, std, np.float16)
    assert_same_bits(got, want)
    if std == 20000.0:
        assert np.isinf(want).any()
    if std == 1e-6:
        assert ((want != 0) & (np.abs(want) < 2.0**-14)).any()


# ---- Kaiming -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, shape", [(np.float32, (96, 37)), (np.float16, (40, 51)),
                                          (np.float64, (8, 25))])
@pytest.mark.parametrize("offset", [0, 5])
def test_kaiming_default(dtype, shape, offset):
    n = math.prod(shape)
    std = math.sqrt(2.0) / math.sqrt(float(shape[1]))  # leaky_relu, a=0: gain sqrt(2); fan_in
    bound = math.sqrt(3.0) * std
    w = np.empty(shape, dtype=dtype)
    assert fk.kaiming_normal_(w, seed=17, stream=4, offset=offset) is w
    assert_same_bits(w, ref.normal(17, 4, offset, n, 0.0, std, dtype).reshape(shape))
    fk.kaiming_uniform_(w, seed=17, stream=4, offset=offset)
    assert_same_bits(w, ref.uniform(17, 4, offset, n, -bound, bound, dtype).reshape(shape))


def test_kaiming_fan_out_relu():
    shape = (30, 7, 3, 3)  # fan_out = 30 * 9
    std = math.sqrt(2.0) / math.sqrt(30.0 * 9)
    w = np.empty(shape, dtype=np.float32)
    fk.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", seed=3, stream=0, offset=1)
    want = ref.normal(3, 0, 1, w.size, 0.0, std, np.float32).reshape(shape)
    assert_same_bits(w, want)
