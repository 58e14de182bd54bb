"""Out-of-place constructors: dtype None means the documented default, float32."""
import numpy as np
import pytest

import fastkaiming as fk
from fastkaiming import _constructors

NAMES = _constructors.NAMES


def test_every_constructor_is_public():
    assert set(NAMES) <= set(fk.__all__)
    assert len(NAMES) == 14


@pytest.mark.parametrize("name", NAMES)
def test_dtype_none_is_float32(name):
    make = getattr(fk, name)
    default = make((6, 4), seed=3, stream=1)
    none_positional = make((6, 4), None, seed=3, stream=1)
    none_keyword = make((6, 4), dtype=None, seed=3, stream=1)
    for got in (default, none_positional, none_keyword):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, default)
    filled = getattr(fk, name + "_")(np.empty((6, 4), np.float32), seed=3, stream=1)
    np.testing.assert_array_equal(default, filled)


@pytest.mark.parametrize("name", NAMES)
def test_explicit_dtypes(name):
    for dtype in ("float16", np.float64):
        got = getattr(fk, name)((3, 5), dtype, seed=1)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, getattr(fk, name + "_")(np.empty((3, 5), dtype), seed=1))


def test_bad_dtype_still_rejected():
    with pytest.raises(TypeError, match="dtype must be one of float16, float32, float64, bfloat16, got 'int32'"):
        fk.normal((2,), "int32", seed=0)
