"""bfloat16: the float32 sample rounded once, with the hardware converter's rules."""
import numpy as np
import pytest

import fastkaiming as fk
import reference as ref


def bf16_fill(fill, n, **kw):
    raw = bytearray(2 * n)
    fill(raw, dtype="bfloat16", **kw)
    return np.frombuffer(raw, np.uint16)


FILLS = {
    "normal": lambda t, **kw: fk.normal_(t, 0.5, 2.0, **kw),
    "uniform": lambda t, **kw: fk.uniform_(t, -3.0, 1.5, **kw),
    "kaiming_normal": lambda t, **kw: fk.kaiming_normal_(t, fan_in=7, **kw),
    "kaiming_uniform": lambda t, **kw: fk.kaiming_uniform_(t, fan_in=7, **kw),
}


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("offset", [0, 1, 3, 5, 4 * ((1 << 32) - 2) + 1])
def test_bfloat16_is_the_float32_sample_rounded(fill, offset):
    n = 4099
    f32 = np.empty(n, np.float32)
    FILLS[fill](f32, seed=4, stream=2, offset=offset)
    got = bf16_fill(FILLS[fill], n, seed=4, stream=2, offset=offset)
    np.testing.assert_array_equal(got, ref.bf16_bits(f32))


def test_subnormal_float32_samples_round_to_bfloat16_subnormals():
    # float32 subnormals round to the nearest bfloat16 subnormal (ties to even), not to zero
    n = 4096
    f32 = fk.normal_(np.empty(n, np.float32), 0.0, 1e-39, seed=1)
    assert (np.abs(f32) < np.finfo(np.float32).tiny).mean() > 0.9  # mostly subnormal
    got = bf16_fill(lambda t, **kw: fk.normal_(t, 0.0, 1e-39, **kw), n, seed=1)
    np.testing.assert_array_equal(got, ref.bf16_bits(f32))
    values = (got.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    assert (values != 0).mean() > 0.9  # zero only within half a step of it
    assert np.abs(values - f32).max() <= 2.0**-134  # half a bfloat16 subnormal step
    assert ref.bf16_bits(np.float32(-1e-39)) == 0x800B  # 1e-39 / 2^-133 = 10.9 steps


def test_rounding_ties_to_even():
    # an exact tie (low 16 bits 0x8000) has probability 2^-16: a 2^20 fill holds a few
    n = 1 << 20
    f32 = fk.normal_(np.empty(n, np.float32), seed=9)
    got = bf16_fill(lambda t, **kw: fk.normal_(t, **kw), n, seed=9)
    low = f32.view(np.uint32) & 0xFFFF
    assert (low == 0x8000).any()  # exact ties are present
    np.testing.assert_array_equal(got, ref.bf16_bits(f32))


def test_bfloat16_range_check():
    with pytest.raises(ValueError, match="^b=3.4e\\+38 is out of range for bfloat16$"):
        fk.uniform_(bytearray(8), 0.0, 3.4e38, seed=0, dtype="bfloat16")


def test_ml_dtypes_bfloat16_array_in_place():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    w = np.zeros((64, 32), ml_dtypes.bfloat16)
    address = w.__array_interface__["data"][0]
    assert fk.kaiming_normal_(w, seed=3) is w
    assert w.__array_interface__["data"][0] == address
    expected = bf16_fill(lambda t, **kw: fk.kaiming_normal_(t, fan_in=32, **kw), w.size, seed=3)
    np.testing.assert_array_equal(w.view(np.uint16).ravel(), expected)
    strided = np.zeros((64, 64), ml_dtypes.bfloat16)[:, ::2]
    fk.kaiming_normal_(strided, seed=3)
    np.testing.assert_array_equal(strided.view(np.uint16) if strided.flags.c_contiguous else
                                  np.ascontiguousarray(strided).view(np.uint16), w.view(np.uint16))  # fmt: skip
