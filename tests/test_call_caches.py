"""The per-call caches of the Kaiming fills (the std function by argument values, the fan by
shape) never let an invalid argument through and never change a value."""
import math

import numpy as np
import pytest

import fastkaiming as fk
from fastkaiming import _api, _fans

# A valid argument first (so that its value is cached), then one equal to it (==, same hash) whose
# type the checks refuse: the second call must raise as if nothing were cached.
EQUAL_BUT_INVALID = [
    ({"fan_in": 5}, {"fan_in": 5.0}, TypeError, "^fan_in must be an int, got float 5.0$"),
    ({"fan_out": 3, "mode": "fan_out"}, {"fan_out": True, "mode": "fan_out"}, TypeError,
     "^fan_out must be an int, got bool True$"),
    ({"in_axis": 1}, {"in_axis": 1.0}, TypeError, "^in_axis must be an int, got float 1.0$"),
    ({"out_axis": 0}, {"out_axis": False}, TypeError, "^out_axis must be an int, got bool False$"),
    ({"a": 1}, {"a": True}, TypeError, "^a must be a real number, got bool True$"),
]


@pytest.mark.parametrize("fill", [fk.kaiming_normal_, fk.kaiming_uniform_])
@pytest.mark.parametrize(("valid", "invalid", "exc", "message"), EQUAL_BUT_INVALID)
def test_cached_std_does_not_accept_equal_invalid_arguments(fill, valid, invalid, exc, message):
    buf = np.zeros((4, 6), np.float32)
    fill(buf, seed=1, **valid)
    before = buf.copy()
    with pytest.raises(exc, match=message):
        fill(buf, seed=2, **invalid)
    np.testing.assert_array_equal(buf, before)  # nothing written


def test_cached_std_same_values_as_first_call():
    first = fk.kaiming_normal_(np.zeros((8, 16), np.float32), a=0.5, mode="fan_avg", seed=3)
    _api._STDS.clear()
    _fans._FANS.clear()
    again = fk.kaiming_normal_(np.zeros((8, 16), np.float32), a=0.5, mode="fan_avg", seed=3)
    np.testing.assert_array_equal(first, again)
    assert _api._STDS and _fans._FANS
    third = fk.kaiming_normal_(np.zeros((8, 16), np.float32), a=0.5, mode="fan_avg", seed=3)
    np.testing.assert_array_equal(first, third)


def test_fan_cache_matches_compute_fans_and_stays_bounded():
    _fans._FANS.clear()
    for n in range(1, 2 * _fans._FANS_MAX + 3):
        shape = (n % 7 + 1, n, 3)
        fan_in, fan_out = fk.compute_fans(shape)
        assert _fans.fan(shape, "fan_in", None, None, 1, 0) == fan_in
        assert _fans.fan(shape, "fan_avg", None, None, 1, 0) == (fan_in + fan_out) / 2
        assert len(_fans._FANS) <= _fans._FANS_MAX
    # a list shape (unhashable) is computed, not cached
    assert _fans.fan([2, 3], "fan_out", None, None, 1, 0) == 2.0


def test_fan_cache_still_refuses_a_zero_fan():
    with pytest.raises(ValueError, match=r"^fan_in is 0 for a tensor of shape \(4, 0\)"):
        _fans.fan((4, 0), "fan_in", None, None, 1, 0)
    with pytest.raises(ValueError, match=r"^fan_in is 0 for a tensor of shape \(4, 0\)"):
        _fans.fan((4, 0), "fan_in", None, None, 1, 0)  # errors are not cached


def test_std_cache_stays_bounded():
    _api._STDS.clear()
    buf = np.zeros((2, 3), np.float32)
    for k in range(600):
        fk.kaiming_uniform_(buf, a=k / 7, seed=0)
        assert len(_api._STDS) <= 256
        assert float(np.abs(buf).max()) <= math.sqrt(6 / (1 + (k / 7) ** 2) / 3)  # the bound of this a


def test_torch_fast_path_still_refuses_subclasses_after_plain_tensors():
    torch = pytest.importorskip("torch")

    class Sub(torch.Tensor):
        pass

    fk.kaiming_normal_(torch.zeros(4, 4), seed=0)  # plain: the short way is taken from now on
    sub = torch.zeros(4, 4).as_subclass(Sub)
    with pytest.raises(TypeError, match="a subclass of torch.Tensor"):
        fk.kaiming_normal_(sub, seed=0)
    assert not sub.as_subclass(torch.Tensor).any()
