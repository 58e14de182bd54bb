"""Every public fill, fed arbitrary arguments, succeeds or raises TypeError/ValueError with a
message: never a crash, a hang, or another exception type."""
import array
import math
import warnings

import numpy as np
import pytest

import fastkaiming as fk

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


class NoBuffer:
    pass


WEIRD = st.sampled_from([
    None, True, False, 0, 1, -1, 7, 2**64, -(2**64), 2**200, 0.5, -0.0, math.nan, math.inf, -math.inf, 1e308,
    "1", "", b"12", [1, 2], (3, 4), {"a": 1}, object(), NoBuffer(), np.float32(2.0), np.int64(3),
    np.uint64(2**63), complex(1, 2), np.array([1.0]), "fan_in", "relu", "float16", "bfloat16", "int32",
])  # fmt: skip


def _read_only():
    a = np.zeros((4, 4), np.float32)
    a.flags.writeable = False
    return a


MAKERS = [
    lambda: np.zeros((4, 4), np.float32), lambda: np.zeros((0, 3)), lambda: np.zeros(7, np.float16),
    lambda: np.zeros((2, 3, 4), np.float64), lambda: np.zeros((4, 4), np.int32), lambda: np.zeros(3, np.complex64),
    lambda: np.zeros(2, object), _read_only, lambda: np.zeros(()), lambda: bytearray(16), lambda: bytearray(7),
    lambda: b"immutable", lambda: memoryview(bytearray(8)), lambda: array.array("f", [0.0] * 6),
    lambda: array.array("i", [0] * 3), lambda: np.zeros((5, 5), np.float32)[::2, ::-1],
    lambda: np.zeros(16, np.uint8), lambda: [0.0, 1.0], lambda: None, lambda: 3.0, NoBuffer,
]  # fmt: skip


def tensors():
    """A fresh object each time, from every kind the fills may be handed."""
    return st.sampled_from(range(len(MAKERS))).map(lambda i: MAKERS[i]())


FILLS = [fk.kaiming_normal_, fk.kaiming_uniform_, fk.normal_, fk.uniform_, fk.trunc_normal_, fk.variance_scaling_,
         fk.he_normal_, fk.xavier_uniform_]  # fmt: skip
KEYWORDS = ["seed", "stream", "offset", "threads", "dtype", "fan_in", "fan_out", "in_axis", "out_axis", "mode",
            "nonlinearity", "global_shape", "block_start"]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fill=st.sampled_from(FILLS),
    tensor=tensors(),
    positional=st.lists(WEIRD, max_size=4),
    keywords=st.dictionaries(st.sampled_from(KEYWORDS), WEIRD, max_size=5),
)
def test_arbitrary_arguments(fill, tensor, positional, keywords):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zero-element fills warn, as torch
        try:
            fill(tensor, *positional, **keywords)
        except (TypeError, ValueError) as exc:
            assert str(exc), "an exception without a message"


@settings(max_examples=200, deadline=None)
@given(positional=st.lists(WEIRD, max_size=3), keywords=st.dictionaries(st.sampled_from(KEYWORDS), WEIRD, max_size=3))
def test_arbitrary_arguments_to_helpers(positional, keywords):
    for fn in (fk.calculate_gain, fk.compute_fans, fk.Generator, lambda *a, **k: fk.random_raw(np.zeros(4, np.uint32), *a, **k)):
        try:
            fn(*positional, **keywords)
        except (TypeError, ValueError) as exc:
            assert str(exc)
