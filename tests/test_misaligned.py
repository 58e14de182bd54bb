"""Buffers misaligned for their dtype are filled safely (byte stores) and bit for bit as aligned
ones. CI runs this file under AddressSanitizer + UndefinedBehaviorSanitizer, where a typed store
through a misaligned pointer is fatal."""
import numpy as np
import pytest

import fastkaiming as fk

FILLS = {
    "normal": lambda t, **kw: fk.normal_(t, 0.25, 3.0, seed=11, **kw),
    "uniform": lambda t, **kw: fk.uniform_(t, -1.5, 0.5, seed=12, **kw),
    "trunc_normal": lambda t, **kw: fk.trunc_normal_(t, 0.1, 0.5, -0.6, 0.9, seed=13, **kw),
}
N = 1000


def misaligned(dtype, n=N):
    itemsize = np.dtype(dtype).itemsize
    a = np.frombuffer(bytearray(n * itemsize + 1), dtype, offset=1)
    assert not a.flags.aligned
    return a


def bits(x):
    return x.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("fill", FILLS)
def test_contiguous(dtype, fill):
    got, want = misaligned(dtype), np.empty(N, dtype)
    FILLS[fill](got, offset=3)
    FILLS[fill](want, offset=3)
    np.testing.assert_array_equal(bits(got), bits(want))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("fill", FILLS)
def test_strided(dtype, fill):
    base = misaligned(dtype, 4 * N)
    views = {
        "every other": np.s_[::2],
        "reversed, every third": np.s_[::-3],
    }
    for name, index in views.items():
        base[:] = 7
        got, want = base[index], np.empty(len(base[index]), dtype)
        FILLS[fill](got)
        FILLS[fill](want)
        np.testing.assert_array_equal(bits(got), bits(want), err_msg=name)
        outside = np.ones(base.size, bool)
        outside[index] = False
        assert (base[outside] == 7).all(), name  # the elements between keep their bytes
    got, want = base.reshape(40, 100).T, np.empty((100, 40), dtype)
    FILLS[fill](got)
    FILLS[fill](want)
    np.testing.assert_array_equal(bits(got), bits(want), err_msg="transposed")


@pytest.mark.parametrize("fill", FILLS)
def test_bfloat16(fill):
    got = np.frombuffer(bytearray(2 * N + 1), np.uint16, offset=1)
    want = np.empty(N, np.uint16)
    FILLS[fill](got, dtype="bfloat16")
    FILLS[fill](want, dtype="bfloat16")
    np.testing.assert_array_equal(got, want)
    FILLS[fill](got[::-2], dtype="bfloat16", offset=5)
    FILLS[fill](want[::-2], dtype="bfloat16", offset=5)
    np.testing.assert_array_equal(got, want)


def test_block_of_a_bigger_tensor():
    """A misaligned, strided shard gets the samples of its place in the whole tensor."""
    whole = np.empty((30, 40), np.float32)
    fk.normal_(whole, seed=4)
    got = misaligned(np.float32, 20 * 30).reshape(30, 20).T  # (20, 30), column-major
    fk.normal_(got, seed=4, global_shape=(30, 40), block_start=(10, 5))
    np.testing.assert_array_equal(bits(got), bits(whole[10:30, 5:35]))
