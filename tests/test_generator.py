"""fk.Generator: every public in-place fill is a method on the generator's next stream."""
import inspect

import numpy as np
import pytest

import fastkaiming as fk

# every public function that fills a buffer in place
IN_PLACE = [n for n in fk.__all__ if n.endswith("_") and not n.startswith("__")] + ["random_raw"]


def _buffer(name):
    return np.zeros((6, 5), np.uint32 if name == "random_raw" else np.float32)


def test_every_public_fill_is_a_method():
    assert len(IN_PLACE) == 15
    for name in IN_PLACE:
        assert callable(getattr(fk.Generator, name, None)), f"Generator has no {name}"


@pytest.mark.parametrize("name", IN_PLACE)
def test_signature_is_the_function_s_without_seed_and_stream(name):
    function = inspect.signature(getattr(fk, name)).parameters
    method = inspect.signature(getattr(fk.Generator, name)).parameters
    assert list(method) == ["self"] + [p for p in function if p not in ("seed", "stream")]
    for p in list(method)[1:]:
        assert method[p] == function[p]
    assert list(inspect.signature(getattr(fk.Generator(0), name)).parameters)[0] == "tensor" or name == "random_raw"


def test_each_method_equals_the_function_on_successive_streams():
    g = fk.Generator(2**64 - 5)
    for k, name in enumerate(IN_PLACE):
        got = getattr(g, name)(_buffer(name), offset=3, threads=1)
        assert g.next_stream == k + 1
        expected = getattr(fk, name)(_buffer(name), seed=2**64 - 5, stream=k, offset=3, threads=1)
        np.testing.assert_array_equal(got, expected, err_msg=name)
        assert got.any()


def test_positional_and_block_arguments_pass_through():
    g = fk.Generator(4)
    a = g.trunc_normal_(np.empty((4, 3)), 1.0, 0.5, 0.0, 2.0)
    b = g.xavier_uniform_(np.empty((2, 3), np.float32), 2.0, global_shape=(4, 3), block_start=(2, 0))
    c = g.variance_scaling_(np.empty((3, 4)), 0.5, "fan_avg", "uniform")
    np.testing.assert_array_equal(a, fk.trunc_normal_(np.empty((4, 3)), 1.0, 0.5, 0.0, 2.0, seed=4, stream=0))
    whole = fk.xavier_uniform_(np.empty((4, 3), np.float32), 2.0, seed=4, stream=1)
    np.testing.assert_array_equal(b, whole[2:])
    np.testing.assert_array_equal(c, fk.variance_scaling_(np.empty((3, 4)), 0.5, "fan_avg", "uniform", seed=4, stream=2))


@pytest.mark.parametrize("own", ["seed", "stream"])
def test_seed_and_stream_are_the_generator_s(own):
    g = fk.Generator(1)
    with pytest.raises(TypeError, match=rf"Generator.he_normal_ takes no {own}= \(the generator gives"):
        g.he_normal_(np.empty((3, 3)), **{own: 1})
    assert g.next_stream == 0


def test_failed_calls_consume_no_stream():
    g = fk.Generator(1)
    with pytest.raises(ValueError, match="trunc_normal_ expects a < b"):
        g.trunc_normal_(np.empty(4), a=1.0, b=0.0)
    with pytest.raises(ValueError, match="scale must be > 0"):
        g.variance_scaling_(np.empty((2, 2)), -1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'nonlinearity'"):
        g.xavier_normal_(np.empty((2, 2)), nonlinearity="relu")
    assert g.next_stream == 0


def test_an_os_seeded_generator_is_reproduced_from_its_seed():
    g = fk.Generator()
    first = [g.he_normal_(np.empty((8, 8), np.float32)), g.uniform_(np.empty(10), -1, 1)]
    again = fk.Generator(g.seed)
    second = [again.he_normal_(np.empty((8, 8), np.float32)), again.uniform_(np.empty(10), -1, 1)]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_methods_are_documented():
    assert "next stream" in fk.Generator.glorot_uniform_.__doc__
    assert "Generator(g.seed)" in fk.Generator.__doc__
    assert "Generator(g.seed)" in fk.Generator.seed.__doc__
