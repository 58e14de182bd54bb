"""Property tests (hypothesis): any layout, offset, stream, dtype, thread count and kernel.

Each fill equals the NumPy reference model, a strided view gets the values of a contiguous
array, pieces at matching offsets equal the whole, and no byte outside the view changes.
"""
import numpy as np
import pytest

import fastkaiming as fk
import fastkaiming._api as api
import reference as ref
from fastkaiming import _checks

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PATHS = sorted(fk._core.isa_names().values())
DTYPES = ["float16", "float32", "float64"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def bits(x):
    return np.ascontiguousarray(x).view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


@st.composite
def strided_views(draw):
    """A view with any steps (negative included) and any lengths (zero included) into a base
    array padded with guard elements on every side."""
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(0, 6)) for _ in range(ndim))
    steps = tuple(draw(st.sampled_from([1, 2, 3, -1, -2])) for _ in range(ndim))
    base_shape = tuple(max(1, n) * abs(s) + 4 for n, s in zip(shape, steps, strict=True))
    index = []
    for n, s in zip(shape, steps, strict=True):
        start = 2 if s > 0 else 2 + max(n - 1, 0) * -s
        stop = start + n * s
        index.append(slice(start, stop if stop >= 0 else None, s))
    return base_shape, tuple(index), shape


@SETTINGS
@given(
    layout=strided_views(),
    dtype=st.sampled_from(DTYPES),
    dist=st.sampled_from(["normal", "uniform", "trunc_normal"]),
    seed=st.integers(0, 2**64 - 1),
    stream=st.integers(0, 2**64 - 1),
    offset=st.one_of(st.integers(0, 1000), st.integers(4 * (2**32 - 8), 4 * (2**32 + 8))),
    threads=st.sampled_from([1, 2, 3, None]),
    isa=st.sampled_from(PATHS),
)
def test_any_view_equals_the_contiguous_fill_and_guards_hold(monkeypatch, layout, dtype, dist, seed, stream,
                                                             offset, threads, isa):  # fmt: skip
    monkeypatch.setattr(api, "_ISA", isa)
    base_shape, index, shape = layout
    fill = {
        "normal": lambda t: fk.normal_(t, 0.5, 2.0, seed=seed, stream=stream, offset=offset, threads=threads),
        "uniform": lambda t: fk.uniform_(t, -1.0, 3.0, seed=seed, stream=stream, offset=offset, threads=threads),
        "trunc_normal": lambda t: fk.trunc_normal_(t, 0.0, 1.0, -1.5, 0.5, seed=seed, stream=stream,
                                                   offset=offset, threads=threads),
    }[dist]  # fmt: skip
    base = np.full(base_shape, 42, dtype)
    view = base[index]
    assert view.shape == shape
    if view.size == 0:
        with pytest.warns(UserWarning, match="no-op"):
            fill(view)
        assert (base == 42).all()
        return
    fill(view)
    contiguous = fill(np.empty(shape, dtype))
    np.testing.assert_array_equal(bits(view), bits(contiguous))
    view[...] = 42
    assert (base == 42).all(), "a byte outside the view changed"


@SETTINGS
@given(
    n=st.integers(1, 300),
    dtype=st.sampled_from(DTYPES),
    normal=st.booleans(),
    seed=st.integers(0, 2**64 - 1),
    stream=st.integers(0, 2**64 - 1),
    offset=st.integers(0, 10**6),
    cut=st.data(),
    isa=st.sampled_from(PATHS),
)
def test_matches_the_reference_model_and_pieces_equal_the_whole(monkeypatch, n, dtype, normal, seed, stream,
                                                                offset, cut, isa):  # fmt: skip
    monkeypatch.setattr(api, "_ISA", isa)
    if dtype == "float64" and n > 40:
        n = 40  # the float64 model is exact rational arithmetic: slow
    fill = (lambda t, o: fk.normal_(t, -0.25, 1.5, seed=seed, stream=stream, offset=o)) if normal else (
        lambda t, o: fk.uniform_(t, -0.3, 2.5, seed=seed, stream=stream, offset=o))  # fmt: skip
    whole = fill(np.empty(n, dtype), offset)
    model = (ref.normal(seed, stream, offset, n, -0.25, 1.5, dtype) if normal
             else ref.uniform(seed, stream, offset, n, -0.3, 2.5, dtype))  # fmt: skip
    np.testing.assert_array_equal(bits(whole), bits(np.asarray(model, dtype)))
    k = cut.draw(st.integers(0, n))
    pieces = np.empty(n, dtype)
    if k:
        fill(pieces[:k], offset)
    if k < n:
        fill(pieces[k:], offset + k)
    np.testing.assert_array_equal(bits(pieces), bits(whole))


@SETTINGS
@given(
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=3).map(tuple),
    data=st.data(),
    dtype=st.sampled_from(DTYPES),
)
def test_random_blocks_equal_the_whole(shape, data, dtype):
    start = tuple(data.draw(st.integers(0, g - 1)) for g in shape)
    size = tuple(data.draw(st.integers(1, g - s)) for g, s in zip(shape, start, strict=True))
    whole = fk.normal_(np.empty(shape, dtype), seed=1, stream=2, offset=3)
    block = fk.normal_(np.empty(size, dtype), seed=1, stream=2, offset=3, global_shape=shape, block_start=start)
    index = tuple(slice(s, s + n) for s, n in zip(start, size, strict=True))
    np.testing.assert_array_equal(bits(block), bits(whole[index]))


def _touched(shape, strides, itemsize, origin, nbytes):
    """Oracle: how many elements of the view cover each byte of the base buffer (address by address)."""
    counts = np.zeros(nbytes, np.int64)
    for index in np.ndindex(*shape):
        start = origin + sum(i * s for i, s in zip(index, strides, strict=True))
        counts[start:start + itemsize] += 1
    return counts


@st.composite
def raw_views(draw):
    """Any shape and byte strides (zero, negative, interleaved, overlapping, not multiples of the
    item size), placed in a guard-byte buffer."""
    dtype = draw(st.sampled_from(["float16", "float32", "float64"]))
    itemsize = np.dtype(dtype).itemsize
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(0, 5)) for _ in range(ndim))
    unit = draw(st.sampled_from([itemsize, itemsize, 1]))
    strides = tuple(unit * draw(st.integers(-12, 12)) for _ in range(ndim))
    low = sum(min(0, (n - 1) * s) for n, s in zip(shape, strides, strict=True) if n)
    high = sum(max(0, (n - 1) * s) for n, s in zip(shape, strides, strict=True) if n)
    guard = 16
    origin = guard - low
    nbytes = origin + high + itemsize + guard
    return dtype, shape, strides, origin, nbytes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=raw_views(), seed=st.integers(0, 2**64 - 1))
def test_overlapping_views_are_rejected_and_the_rest_filled_exactly(layout, seed):
    dtype, shape, strides, origin, nbytes = layout
    itemsize = np.dtype(dtype).itemsize
    base = np.full(nbytes, 0xA5, np.uint8)
    view = np.ndarray(shape, dtype, buffer=base, offset=origin, strides=strides)
    counts = _touched(shape, strides, itemsize, origin, nbytes)
    if view.size == 0:
        return
    overlaps = counts.max() > 1
    if not view.flags.aligned:  # decided alike, but the write itself is the C core's (UBSan) business
        fill = lambda v, **kw: _checks.no_overlap(v.shape, v.strides, v.itemsize)
    else:
        fill = fk.normal_
    try:
        fill(view, seed=seed, stream=3)
    except ValueError as exc:
        assert overlaps, f"a view of distinct elements was rejected: {exc}"
        assert "overlapping memory" in str(exc)
        assert (base == 0xA5).all(), "a rejected view was written"
        return
    assert not overlaps, "an overlapping view was filled"
    if not view.flags.aligned:
        return
    contiguous = fk.normal_(np.empty(shape, dtype), seed=seed, stream=3)
    np.testing.assert_array_equal(bits(view), bits(contiguous))
    assert (base[counts == 0] == 0xA5).all(), "a byte outside the view changed"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=raw_views())
def test_beyond_the_exact_limit_rejection_is_conservative(monkeypatch, layout):
    """Without the address-by-address check, nested strides are still accepted exactly and
    every other view is rejected as one that may overlap."""
    monkeypatch.setattr(_checks, "OVERLAP_EXACT_LIMIT", 0)
    dtype, shape, strides, origin, nbytes = layout
    itemsize = np.dtype(dtype).itemsize
    if 0 in shape:
        return
    overlaps = _touched(shape, strides, itemsize, origin, nbytes).max() > 1
    try:
        _checks.no_overlap(shape, strides, itemsize)
    except ValueError as exc:
        assert overlaps or str(exc).startswith("tensor may overlap itself"), str(exc)
        return
    assert not overlaps
