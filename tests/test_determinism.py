"""The determinism contract: sample i depends only on (seed, stream, offset + i, ...)."""
import array
import mmap

import numpy as np
import pytest

import fastkaiming as fk

DTYPES = ["float16", "float32", "float64"]
FILLS = {
    "normal": lambda t, **kw: fk.normal_(t, 0.5, 2.0, **kw),
    "uniform": lambda t, **kw: fk.uniform_(t, -3.0, 1.5, **kw),
    "kaiming_normal": lambda t, **kw: fk.kaiming_normal_(t, fan_in=7, **kw),
    "kaiming_uniform": lambda t, **kw: fk.kaiming_uniform_(t, fan_in=7, **kw),
    "trunc_normal": lambda t, **kw: fk.trunc_normal_(t, 0.1, 0.5, -0.6, 0.9, **kw),
}


def bits(x):
    x = np.ascontiguousarray(x)
    return x.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


def filled(fill, n, dtype, **kw):
    out = np.empty(n, dtype)
    FILLS[fill](out, **kw)
    return out


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_any_split_equals_one_fill(fill, dtype):
    whole = filled(fill, 67, dtype, seed=11, stream=3, offset=5)
    for k in range(68):
        parts = np.empty(67, dtype)
        if k > 0:
            FILLS[fill](parts[:k], seed=11, stream=3, offset=5)
        if k < 67:
            FILLS[fill](parts[k:], seed=11, stream=3, offset=5 + k)
        np.testing.assert_array_equal(bits(parts), bits(whole), err_msg=f"split at {k}")


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_never_changes_output(fill, dtype):
    n = (1 << 19) + 37  # above the single-thread cutoff, not a multiple of anything
    ref = filled(fill, n, dtype, seed=5, stream=1, offset=3, threads=1)
    for threads in (2, 3, 8, -1, None):
        got = filled(fill, n, dtype, seed=5, stream=1, offset=3, threads=threads)
        np.testing.assert_array_equal(bits(got), bits(ref), err_msg=f"threads={threads}")


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_view_gets_the_values_of_a_contiguous_array(fill, dtype):
    shape = (5, 6, 7)
    ref = np.empty(shape, dtype)
    FILLS[fill](ref, seed=9, stream=2, offset=1)
    base = np.full((10, 13, 21), 42, dtype)
    views = {
        "step": base[::2, 1::2, ::3],
        "reversed": base[:5, :6, :7][::-1, :, ::-1],
        "fortran": np.asfortranarray(np.zeros(shape, dtype)),
        "transposed-copy": np.zeros(shape[::-1], dtype).T,
    }
    for name, view in views.items():
        assert view.shape == shape
        FILLS[fill](view, seed=9, stream=2, offset=1)
        np.testing.assert_array_equal(bits(view), bits(ref), err_msg=name)
        view[...] = 42
        assert (base == 42).all(), f"{name}: wrote outside the view"


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_strided_fill_with_threads(dtype):
    base = np.zeros((1024, 1024), dtype)
    view = base[:, ::2]
    fk.normal_(view, seed=4, threads=2)
    ref = fk.normal_(np.empty(view.shape, dtype), seed=4, threads=1)
    np.testing.assert_array_equal(bits(view), bits(ref))
    assert not base[:, 1::2].any()


def test_float16_is_the_float32_sample_rounded_once():
    for fill in FILLS:
        f32 = filled(fill, 4099, "float32", seed=3, offset=2)
        f16 = filled(fill, 4099, "float16", seed=3, offset=2)
        np.testing.assert_array_equal(bits(f16), bits(f32.astype(np.float16)), err_msg=fill)


def test_every_buffer_type_gets_the_same_values():
    ref = fk.normal_(np.empty(64, np.float32), seed=1)
    ref64 = fk.normal_(np.empty(64, np.float64), seed=1)
    arr = array.array("f", bytes(256))
    fk.normal_(arr, seed=1)
    assert np.array_equal(np.frombuffer(arr, np.float32), ref)
    arr_d = array.array("d", bytes(512))
    fk.normal_(arr_d, seed=1)
    assert np.array_equal(np.frombuffer(arr_d, np.float64), ref64)
    raw = bytearray(256)
    fk.normal_(raw, seed=1, dtype="float32")
    assert np.array_equal(np.frombuffer(raw, np.float32), ref)
    mv = memoryview(bytearray(256)).cast("f")
    fk.normal_(mv, seed=1)
    assert np.array_equal(np.frombuffer(mv, np.float32), ref)
    with mmap.mmap(-1, 256) as mm:
        fk.normal_(mm, seed=1, dtype=np.float32)
        assert np.array_equal(np.frombuffer(mm, np.float32), ref)
    ref16 = fk.normal_(np.empty(64, np.float16), seed=1)
    raw16 = bytearray(128)
    fk.normal_(raw16, seed=1, dtype="float16")
    assert np.array_equal(np.frombuffer(raw16, np.float16), ref16)


def test_memmap_file(tmp_path):
    path = tmp_path / "w.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(300, 40))
    fk.kaiming_uniform_(mm, seed=7)
    mm.flush()
    del mm
    back = np.fromfile(path, dtype=np.float32).reshape(300, 40)
    ref = fk.kaiming_uniform_(np.empty((300, 40), np.float32), seed=7)
    np.testing.assert_array_equal(back, ref)


def test_returns_the_object_it_was_given():
    for tensor in (np.empty((3, 4)), array.array("f", [0.0] * 8), bytearray(16)):
        dtype = "float32" if isinstance(tensor, bytearray) else None
        assert fk.normal_(tensor, seed=0, dtype=dtype) is tensor
        assert fk.kaiming_uniform_(tensor, seed=0, fan_in=3, dtype=dtype) is tensor


def test_seed_stream_and_offset_all_matter():
    base = filled("normal", 256, "float32", seed=1, stream=0)
    for kw in ({"seed": 2}, {"seed": 1, "stream": 1}, {"seed": 1 << 32}, {"seed": 1, "stream": 1 << 32}):
        other = filled("normal", 256, "float32", **kw)
        assert np.mean(other == base) < 0.01, kw
    shifted = filled("normal", 256, "float32", seed=1, offset=4)
    np.testing.assert_array_equal(shifted[:-4], base[4:])


def test_block_counter_carry_is_seamless():
    # words 4 * (2**32 - 2) ... cross the carry from the low into the high block word
    start = 4 * ((1 << 32) - 2)
    whole = fk.random_raw(np.empty(24, np.uint32), seed=3, offset=start)
    for k in range(25):
        parts = np.empty(24, np.uint32)
        if k:
            fk.random_raw(parts[:k], seed=3, offset=start)
        if k < 24:
            fk.random_raw(parts[k:], seed=3, offset=start + k)
        np.testing.assert_array_equal(parts, whole)
    assert len(set(whole.tolist())) == 24


def test_none_seed_draws_fresh_entropy():
    a = fk.normal_(np.empty(64, np.float32))
    b = fk.normal_(np.empty(64, np.float32))
    assert not np.array_equal(a, b)


class TestGenerator:
    def test_successive_fills_use_successive_streams(self):
        g = fk.Generator(123)
        w1, w2 = np.empty((32, 16), np.float32), np.empty((8, 4), np.float64)
        g.kaiming_normal_(w1)
        g.kaiming_uniform_(w2, mode="fan_out")
        assert g.next_stream == 2
        np.testing.assert_array_equal(w1, fk.kaiming_normal_(np.empty((32, 16), np.float32), seed=123, stream=0))
        np.testing.assert_array_equal(
            w2, fk.kaiming_uniform_(np.empty((8, 4)), mode="fan_out", seed=123, stream=1)
        )

    def test_reproducible(self):
        def run():
            g = fk.Generator(2024)
            return [g.normal_(np.empty(50)), g.uniform_(np.empty(50), -1, 1)]

        for a, b in zip(run(), run(), strict=True):
            np.testing.assert_array_equal(a, b)

    def test_failed_call_consumes_no_stream(self):
        g = fk.Generator(1)
        with pytest.raises(ValueError):
            g.normal_(np.empty(4), std=-1.0)
        with pytest.raises(TypeError):
            g.normal_("not a buffer")
        assert g.next_stream == 0

    def test_none_seed_is_recorded(self):
        g = fk.Generator()
        assert 0 <= g.seed < 2**64
        a = g.normal_(np.empty(16))
        np.testing.assert_array_equal(a, fk.normal_(np.empty(16), seed=g.seed, stream=0))
        assert repr(g) == f"Generator(seed={g.seed}, next_stream=1)"

    def test_generator_rejects_bad_seed(self):
        with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*64\), got -1"):
            fk.Generator(-1)
