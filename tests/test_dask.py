"""fastkaiming.dask on a real dask.distributed cluster: any chunking equals the in-memory fill."""
import numpy as np
import pytest

import fastkaiming as fk

pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
fkd = pytest.importorskip("fastkaiming.dask")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)  # fmt: skip
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


CASES = [
    ("kaiming_normal", {"nonlinearity": "relu"}),
    ("he_normal", {}),
    ("trunc_normal", {"std": 0.02, "a": -0.04, "b": 0.04}),
    ("xavier_uniform", {}),
]


@pytest.mark.parametrize("name,kwargs", CASES)
@pytest.mark.parametrize("chunks", [(1000, 700), (300, 250), (1000, 33), (7, 700), "auto"])
def test_distributed_compute_equals_in_memory_fill(client, name, kwargs, chunks, isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("the workers run the default kernel")
    lazy = getattr(fkd, name)((1000, 700), chunks, "float32", seed=7, stream=3, **kwargs)
    got = client.compute(lazy).result()
    np.testing.assert_array_equal(got, getattr(fk, name)((1000, 700), "float32", seed=7, stream=3, **kwargs))


def test_store_into_a_memory_map(client, tmp_path, isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("the workers run the default kernel")
    import dask.array as da

    lazy = fkd.kaiming_uniform((512, 384), (100, 128), "float16", seed=1)
    target = np.lib.format.open_memmap(tmp_path / "w.npy", mode="w+", dtype=np.float16, shape=(512, 384))
    da.store(lazy, target, lock=True, scheduler="threads")  # written chunk by chunk
    target.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), fk.kaiming_uniform((512, 384), "float16", seed=1))


def test_arguments_are_checked_before_any_task_runs():
    with pytest.raises(ValueError, match="^std must be >= 0"):
        fkd.normal((10, 10), 5, std=-1.0, seed=0)
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
        fkd.kaiming_normal((10,), 5, seed=0)
    with pytest.raises(TypeError, match="dtype must be one of"):
        fkd.he_normal((4, 4), 2, "int32", seed=0)


def test_seed_none_is_drawn_once_for_all_chunks():
    lazy = fkd.normal((64, 64), (16, 16))
    a = lazy.compute(scheduler="threads")
    assert np.array_equal(a, lazy.compute(scheduler="threads"))  # the same graph, the same values


def test_generator_fill_takes_one_stream_when_the_array_is_built(client, isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("the workers run the default kernel")
    g = fk.Generator(5)
    lazy = g.fill(fkd.he_normal, (300, 200), (100, 50))
    other = g.fill(fkd.uniform, (30,), 7, "float64", a=-1.0, b=1.0)
    assert g.next_stream == 2
    first = lazy.compute(scheduler="threads")
    np.testing.assert_array_equal(first, lazy.compute(scheduler="threads"))  # not a new stream per compute
    np.testing.assert_array_equal(first, client.compute(lazy).result())
    assert g.next_stream == 2
    np.testing.assert_array_equal(first, fk.he_normal((300, 200), seed=5, stream=0))
    np.testing.assert_array_equal(other.compute(), fk.uniform((30,), "float64", -1.0, 1.0, seed=5, stream=1))


def test_generator_fill_with_bad_arguments_takes_no_stream():
    g = fk.Generator(5)
    with pytest.raises(ValueError, match="^std must be >= 0"):
        g.fill(fkd.normal, (10, 10), 5, std=-1.0)
    assert g.next_stream == 0


def test_dtype_none_is_float32():
    lazy = fkd.normal((8, 8), 4, None, seed=1)
    assert lazy.dtype == np.float32
    np.testing.assert_array_equal(lazy.compute(scheduler="threads"), fk.normal((8, 8), seed=1))
