"""fastkaiming.jax against jax.nn.initializers, and the host-to-JAX hand-over, in one run.

    pytest bench/test_jax.py --benchmark-group-by=group --benchmark-columns=median,rounds

Group "he_normal-8192x8192-float32": ``jax.jit`` of ``fastkaiming.jax.he_normal()`` (the fill in
a pure_callback, XLA copying its result once) and of ``jax.nn.initializers.he_normal()``; the
fastkaiming initializer called eagerly (the filled buffer adopted without a copy); the NumPy
fill alone (the floor). Target: jit against jit >= 3x. test_ratio alternates the two jitted
initializers round by round and records the median per-round ratio (robust to a shared
machine) in extra_info. Group "handover-256MiB": a filled, 64-byte-aligned float32 buffer into a
jax.Array by ``jax.device_put(may_alias=True)`` and ``jax.dlpack.from_dlpack`` (no copy: the
same address, checked) against ``jnp.array`` (a copy).
Smoke mode (--benchmark-disable): 256 x 256, once.
"""
import statistics
import time

import pytest

import fastkaiming as fk
from fastkaiming._constructors import aligned_empty

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
fkj = pytest.importorskip("fastkaiming.jax")


def _shape(benchmark):
    return (256, 256) if benchmark.disabled else (8192, 8192)


def _group(shape):
    return f"he_normal-{shape[0]}x{shape[1]}-float32"


def _initializers(shape):
    ours = jax.jit(lambda k: fkj.he_normal()(k, shape))
    theirs = jax.jit(lambda k: jax.nn.initializers.he_normal()(k, shape))
    return ours, theirs


def _info(benchmark, shape):
    if not benchmark.disabled:
        benchmark.extra_info["Gsamples_per_s"] = shape[0] * shape[1] / benchmark.stats.stats.median / 1e9
        benchmark.extra_info["fastkaiming_threads"] = fk.runtime_info()["threads"]
        benchmark.extra_info["isa"] = fk.runtime_info()["isa"]


@pytest.mark.parametrize("impl", ["fastkaiming-jit", "jax-jit", "fastkaiming-eager", "fastkaiming-numpy-fill"])
def test_he_normal(benchmark, impl):
    shape = _shape(benchmark)
    key = jax.random.key(0)
    ours, theirs = _initializers(shape)
    if impl == "fastkaiming-numpy-fill":
        buf = aligned_empty(shape, "float32")
        buf.fill(0)  # prefault
        fn = lambda: fk.he_normal_(buf, seed=0)
    else:
        call = {"fastkaiming-jit": ours, "jax-jit": theirs, "fastkaiming-eager": lambda k: fkj.he_normal()(k, shape)}[impl]
        call(key).block_until_ready()  # compiled outside the timing
        fn = lambda: call(key).block_until_ready()
    benchmark.group = _group(shape)
    benchmark.pedantic(fn, rounds=1 if benchmark.disabled else 5, iterations=1, warmup_rounds=0 if benchmark.disabled else 1)
    _info(benchmark, shape)


def test_ratio_jit_against_jax_jit(benchmark):
    """Both jitted initializers in each round; extra_info: the median of the per-round ratios."""
    shape = _shape(benchmark)
    key = jax.random.key(0)
    ours, theirs = _initializers(shape)
    ours(key).block_until_ready()
    theirs(key).block_until_ready()
    times = {"fastkaiming": [], "jax": []}

    def one_round():
        t0 = time.perf_counter()
        ours(key).block_until_ready()
        t1 = time.perf_counter()
        theirs(key).block_until_ready()
        times["fastkaiming"].append(t1 - t0)
        times["jax"].append(time.perf_counter() - t1)

    benchmark.group = _group(shape) + "-ratio"
    benchmark.pedantic(one_round, rounds=1 if benchmark.disabled else 7, iterations=1)
    ratios = [j / f for f, j in zip(times["fastkaiming"], times["jax"], strict=True)]
    assert all(r > 0 for r in ratios)
    if not benchmark.disabled:
        benchmark.extra_info["median_ratio_jax_over_fastkaiming"] = statistics.median(ratios)
        benchmark.extra_info["median_s_fastkaiming"] = statistics.median(times["fastkaiming"])
        benchmark.extra_info["median_s_jax"] = statistics.median(times["jax"])


@pytest.mark.parametrize("impl", ["device_put-alias", "from_dlpack", "jnp.array-copy"])
def test_handover(benchmark, impl):
    shape = (256, 256) if benchmark.disabled else (8192, 8192)
    buf = fk.he_normal_(aligned_empty(shape, "float32"), seed=0)
    hand = {"device_put-alias": lambda: jax.device_put(buf, may_alias=True),
            "from_dlpack": lambda: jax.dlpack.from_dlpack(buf),
            "jnp.array-copy": lambda: jnp.array(buf)}[impl]  # fmt: skip
    same = hand().unsafe_buffer_pointer() == buf.ctypes.data
    assert same == (impl != "jnp.array-copy")  # zero-copy where claimed, a copy where not
    benchmark.group = f"handover-{buf.nbytes >> 20}MiB"
    benchmark.pedantic(lambda: hand().block_until_ready(), rounds=1 if benchmark.disabled else 5, iterations=1)
    if not benchmark.disabled:
        benchmark.extra_info["GB_per_s"] = buf.nbytes / benchmark.stats.stats.median / 1e9
