"""Block fills: global_shape= and block_start= make any tiling equal one fill of the whole."""
import itertools

import numpy as np
import pytest

import fastkaiming as fk

FILLS = {
    "kaiming_normal": lambda t, **kw: fk.kaiming_normal_(t, **kw),
    "kaiming_uniform": lambda t, **kw: fk.kaiming_uniform_(t, mode="fan_out", **kw),
    "normal": lambda t, **kw: fk.normal_(t, 0.5, 2.0, **kw),
    "uniform": lambda t, **kw: fk.uniform_(t, -1.0, 3.0, **kw),
    "trunc_normal": lambda t, **kw: fk.trunc_normal_(t, 0.0, 0.5, -1.0, 1.0, **kw),
    "he_normal": lambda t, **kw: fk.he_normal_(t, **kw),
    "xavier_uniform": lambda t, **kw: fk.xavier_uniform_(t, **kw),
}


def bits(x):
    return np.ascontiguousarray(x).view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


def tiles(shape, steps):
    """Every block of a tiling with the given step per axis (uneven edges included)."""
    ranges = [[(s, min(s + step, n)) for s in range(0, n, step)] for n, step in zip(shape, steps, strict=True)]
    return list(itertools.product(*ranges))


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
@pytest.mark.parametrize(
    "shape,steps",
    [((37, 53), (37, 7)),  # columns
     ((37, 53), (5, 53)),  # rows
     ((37, 53), (10, 17)),  # 2-D tiles, uneven edges
     ((6, 9, 11), (4, 5, 3)),  # 3-D tiles
     ((1000,), (333,))],
)  # fmt: skip
def test_any_tiling_equals_one_fill(fill, dtype, shape, steps):
    if len(shape) == 1 and fill in ("kaiming_normal", "kaiming_uniform", "xavier_uniform"):
        pytest.skip("torch-convention fans need 2 dimensions")
    whole = np.empty(shape, dtype)
    FILLS[fill](whole, seed=3, stream=2, offset=5)
    out = np.full(shape, 7, dtype)
    for block in tiles(shape, steps):
        index = tuple(slice(a, b) for a, b in block)
        part = np.empty(tuple(b - a for a, b in block), dtype)
        FILLS[fill](part, seed=3, stream=2, offset=5, global_shape=shape, block_start=[a for a, _ in block])
        out[index] = part
    np.testing.assert_array_equal(bits(out), bits(whole))


def test_blocks_written_through_strided_views_and_threads():
    shape = (1024, 1536)
    whole = fk.kaiming_normal_(np.empty(shape, np.float32), seed=1, threads=1)
    out = np.zeros(shape, np.float32)
    for r0, c0 in itertools.product((0, 512), (0, 768)):
        view = out[r0 : r0 + 512, c0 : c0 + 768]  # the block lands straight in the big array
        fk.kaiming_normal_(view, seed=1, global_shape=shape, block_start=(r0, c0), threads=2)
    np.testing.assert_array_equal(out, whole)


def test_fans_come_from_the_global_shape():
    block = fk.kaiming_normal_(np.empty((4, 8), np.float32), seed=0, global_shape=(100, 400), block_start=(10, 20))
    ref = fk.normal_(np.empty((4, 8), np.float32), 0.0, np.sqrt(2.0) / np.sqrt(400), seed=0,
                     global_shape=(100, 400), block_start=(10, 20))  # fmt: skip
    np.testing.assert_array_equal(block, ref)


def test_bfloat16_and_raw_words_blocks():
    whole = fk.random_raw(np.empty((8, 12), np.uint32), seed=5)
    part = fk.random_raw(np.empty((3, 5), np.uint32), seed=5, global_shape=(8, 12), block_start=(4, 6))
    np.testing.assert_array_equal(part, whole[4:7, 6:11])
    ml_dtypes = pytest.importorskip("ml_dtypes")
    whole = fk.he_normal_(np.empty((8, 12), ml_dtypes.bfloat16), seed=5)
    part = fk.he_normal_(np.empty((3, 5), ml_dtypes.bfloat16), seed=5, global_shape=(8, 12), block_start=(4, 6))
    np.testing.assert_array_equal(part.view(np.uint16), whole[4:7, 6:11].view(np.uint16))


@pytest.mark.parametrize(
    "kwargs,exc,message",
    [
        ({"block_start": (0, 0)}, ValueError, r"^block_start= needs global_shape= \(the shape of the whole tensor\)$"),
        ({"global_shape": (8,)}, ValueError, r"^global_shape has 1 dimensions but the tensor \(the block\) has 2$"),
        ({"global_shape": (8, 8), "block_start": (0,)}, ValueError, "^block_start has 1 entries but the tensor has 2 dimensions$"),
        ({"global_shape": (8, 8), "block_start": (6, 0)}, ValueError,
         r"^the block covers \[6, 10\) on axis 0, outside global_shape\[0\] = 8$"),
        ({"global_shape": (8, 8), "block_start": (-1, 0)}, ValueError, r"^the block covers \[-1, 3\) on axis 0"),
        ({"global_shape": (8, -8)}, ValueError, "^global_shape must not have negative dimensions"),
        ({"global_shape": 8}, TypeError, "^global_shape must be a sequence of ints, got int 8$"),
        ({"global_shape": (8.0, 8)}, TypeError, "^global_shape must be an int, got float 8.0$"),
        ({"global_shape": (2**40, 2**40)}, ValueError, r"more than 2\*\*62 elements$"),
        ({"global_shape": (8, 8), "offset": 4 * 2**64 - 40}, ValueError, r"^offset range \[\d+, \d+\) runs past the end of the stream"),
    ],
)  # fmt: skip
def test_block_errors(kwargs, exc, message):
    w = np.full((4, 4), 7.0, np.float32)
    with pytest.raises(exc, match=message):
        fk.normal_(w, seed=0, **kwargs)
    assert (w == 7.0).all()
