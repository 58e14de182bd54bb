"""fk.Generator: every public in-place fill is a method on the generator's next stream."""
import copy
import inspect
import multiprocessing
import pickle

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


# -- copies: pickle (checkpoints, spawned workers), deepcopy and copy are one Generator at the same state --


def _fills(g):
    return [g.he_normal_(np.empty((4, 4), np.float32)), g.uniform_(np.empty(5), -1.0, 1.0)]


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_a_copy_keeps_seed_and_next_stream_and_counts_on_its_own(how):
    g = fk.Generator(2**64 - 7)
    g.normal_(np.empty(3))
    g.normal_(np.empty(3))
    twin = {"pickle": lambda: pickle.loads(pickle.dumps(g)), "deepcopy": lambda: copy.deepcopy(g),
            "copy": lambda: copy.copy(g)}[how]()  # fmt: skip
    assert type(twin) is fk.Generator and repr(twin) == f"Generator(seed={2**64 - 7}, next_stream=2)"
    assert twin._lock is not g._lock
    first = _fills(twin)
    assert (twin.next_stream, g.next_stream) == (4, 2)  # the original's counter did not move
    for a, b in zip(first, _fills(g), strict=True):  # the original makes the same fills next
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first[0], fk.he_normal_(np.empty((4, 4), np.float32), seed=2**64 - 7, stream=2))


def test_an_os_seeded_generator_pickles_its_drawn_seed():
    g = fk.Generator()
    assert pickle.loads(pickle.dumps(g)).seed == g.seed


def test_a_generator_with_every_stream_used_stays_exhausted_in_a_copy():
    g = fk.Generator(1)
    g._next = 2**64
    twin = pickle.loads(pickle.dumps(g))
    with pytest.raises(ValueError, match=r"^this Generator has used all 2\*\*64 streams$"):
        twin.normal_(np.empty(2))


@pytest.mark.parametrize("state", [{"seed": -1, "next_stream": 0}, {"seed": 1, "next_stream": 2**64 + 1}])
def test_a_state_out_of_range_is_refused(state):
    g = fk.Generator.__new__(fk.Generator)
    with pytest.raises(ValueError, match=r"^not a Generator's state: \{'seed': "):
        g.__setstate__(state)


def _fill_in_worker(g):
    """Run in a spawned process: the fills a Generator received by pickle makes, and it back."""
    return _fills(g), g


def test_a_generator_goes_to_a_spawned_worker_and_back(isa):
    if isa != max(code for code in fk._core.isa_names().values()):
        pytest.skip("one kernel is enough (the test spawns a process)")
    g = fk.Generator(11)
    g.normal_(np.empty(2))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        fills, back = pool.apply_async(_fill_in_worker, (g,)).get(timeout=300)
    assert (back.seed, back.next_stream, g.next_stream) == (11, 3, 1)
    for a, b in zip(fills, _fills(g), strict=True):
        np.testing.assert_array_equal(a, b)
