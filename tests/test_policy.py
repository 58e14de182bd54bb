"""Gains, fans and the Kaiming formulas (He et al. 2015; torch.nn.init)."""
import math

import numpy as np
import pytest

import fastkaiming as fk

GAINS = [
    ("linear", None, 1.0),
    ("conv1d", None, 1.0),
    ("conv2d", None, 1.0),
    ("conv3d", None, 1.0),
    ("conv_transpose1d", None, 1.0),
    ("conv_transpose2d", None, 1.0),
    ("conv_transpose3d", None, 1.0),
    ("sigmoid", None, 1.0),
    ("tanh", None, 5.0 / 3),
    ("relu", None, math.sqrt(2.0)),
    ("relu", 0.7, math.sqrt(2.0)),  # param ignored
    ("leaky_relu", None, math.sqrt(2.0 / (1 + 0.01**2))),
    ("leaky_relu", 0, math.sqrt(2.0)),
    ("leaky_relu", 0.2, math.sqrt(2.0 / 1.04)),
    ("leaky_relu", 1, 1.0),
    ("leaky_relu", -0.5, math.sqrt(2.0 / 1.25)),
    ("selu", None, 0.75),
]


@pytest.mark.parametrize("nonlinearity,param,expected", GAINS)
def test_calculate_gain(nonlinearity, param, expected):
    assert fk.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    "nonlinearity,param,message",
    [
        ("leaky_relu", True, "negative_slope True not a valid number"),
        ("leaky_relu", "0.1", "negative_slope 0.1 not a valid number"),
        ("softmax", None, "Unsupported nonlinearity softmax"),
        ("ReLU", None, "Unsupported nonlinearity ReLU"),
    ],
)
def test_calculate_gain_errors(nonlinearity, param, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        fk.calculate_gain(nonlinearity, param)


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for nonlinearity, param, _ in GAINS:
        assert fk.calculate_gain(nonlinearity, param) == pytest.approx(
            torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15
        )


FANS = [
    # shape, kwargs, (fan_in, fan_out)
    ((20, 30), {}, (30, 20)),  # Linear(30 -> 20): (out, in)
    ((16, 3, 5), {}, (15, 80)),  # Conv1d
    ((64, 32, 3, 3), {}, (288, 576)),  # Conv2d
    ((8, 4, 3, 5, 7), {}, (420, 840)),  # Conv3d
    ((30, 20), {"in_axis": -2, "out_axis": -1}, (30, 20)),  # Keras Dense(20) on 30 inputs
    ((3, 3, 32, 64), {"in_axis": -2, "out_axis": -1}, (288, 576)),  # Keras Conv2D HWIO
    ((5, 7), {"in_axis": 0, "out_axis": 1}, (5, 7)),
    ((2, 3, 4), {"in_axis": 2, "out_axis": 0}, (12, 6)),
]


@pytest.mark.parametrize("shape,kwargs,expected", FANS)
def test_compute_fans(shape, kwargs, expected):
    assert fk.compute_fans(shape, **kwargs) == expected


def test_compute_fans_matches_torch():
    torch = pytest.importorskip("torch")
    for shape, kwargs, _ in FANS:
        if not kwargs:
            t = torch.empty(shape)
            assert fk.compute_fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(t)


@pytest.mark.parametrize(
    "shape,kwargs,exc,message",
    [
        ((5,), {}, ValueError, "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"),
        ((), {}, ValueError, "Fan in and fan out can not be computed"),
        ((3, 4), {"in_axis": 2}, ValueError, "in_axis=2 is out of range for a tensor with 2 dimensions"),
        ((3, 4), {"out_axis": -3}, ValueError, "out_axis=-3 is out of range"),
        ((3, 4), {"in_axis": 1, "out_axis": -1}, ValueError, "in_axis and out_axis must be different axes"),
        ((3, 4), {"in_axis": 1.0}, TypeError, "in_axis must be an int, got float 1.0"),
        ((3, 4.5), {}, TypeError, "shape must be an int, got float 4.5"),
    ],
)
def test_compute_fans_errors(shape, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        fk.compute_fans(shape, **kwargs)


def bits(x):
    return np.ascontiguousarray(x).view(np.uint32 if x.dtype == np.float32 else np.uint64)


SQRT2 = math.sqrt(2.0)
KAIMING = [
    # shape, kwargs, (gain, fan): std = gain / sqrt(fan), as torch.nn.init computes it
    ((20, 30), {}, (SQRT2, 30)),
    ((20, 30), {"mode": "fan_out"}, (SQRT2, 20)),
    ((20, 30), {"mode": "fan_avg"}, (SQRT2, 25)),
    ((20, 30), {"nonlinearity": "relu"}, (SQRT2, 30)),
    ((20, 30), {"a": 0.2}, (math.sqrt(2.0 / (1 + 0.2**2)), 30)),
    ((20, 30), {"a": math.sqrt(5)}, (math.sqrt(2.0 / (1 + math.sqrt(5) ** 2)), 30)),  # nn.Linear
    ((20, 30), {"nonlinearity": "tanh"}, (5.0 / 3, 30)),
    ((20, 30), {"nonlinearity": "linear", "a": 9.0}, (1.0, 30)),
    ((16, 8, 3, 3), {}, (SQRT2, 72)),
    ((3, 3, 8, 16), {"in_axis": -2, "out_axis": -1}, (SQRT2, 72)),
    ((3, 3, 8, 16), {"in_axis": -2, "out_axis": -1, "mode": "fan_out"}, (SQRT2, 144)),
    ((7,), {"fan_in": 49}, (SQRT2, 49)),
    ((20, 30), {"fan_in": 100}, (SQRT2, 100)),
    ((20, 30), {"mode": "fan_avg", "fan_out": 50}, (SQRT2, 40)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,kwargs,gain_fan", KAIMING)
def test_kaiming_normal_std(shape, kwargs, gain_fan, dtype):
    gain, fan = gain_fan
    std = gain / math.sqrt(fan)
    got = fk.kaiming_normal_(np.empty(shape, dtype), seed=3, stream=4, **kwargs)
    ref = fk.normal_(np.empty(shape, dtype), 0.0, std, seed=3, stream=4)
    np.testing.assert_array_equal(bits(got), bits(ref))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,kwargs,gain_fan", KAIMING)
def test_kaiming_uniform_bound(shape, kwargs, gain_fan, dtype):
    gain, fan = gain_fan
    bound = math.sqrt(3.0) * (gain / math.sqrt(fan))
    got = fk.kaiming_uniform_(np.empty(shape, dtype), seed=3, stream=4, **kwargs)
    ref = fk.uniform_(np.empty(shape, dtype), -bound, bound, seed=3, stream=4)
    np.testing.assert_array_equal(bits(got), bits(ref))
    assert np.abs(got).max() <= np.asarray(bound, dtype)


def test_kaiming_zero_element_warns_like_torch():
    for shape in [(0, 5), (3, 0, 2), (0,)]:
        w = np.empty(shape, np.float32)
        with pytest.warns(UserWarning, match="^Initializing zero-element tensors is a no-op$"):
            assert fk.kaiming_normal_(w, seed=0) is w
        with pytest.warns(UserWarning, match="no-op"):
            fk.kaiming_uniform_(w, seed=0, mode="fan_out")
        with pytest.warns(UserWarning, match="no-op"):
            fk.normal_(w, seed=0)
