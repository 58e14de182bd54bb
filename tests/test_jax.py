"""fastkaiming.jax: JAX's initializer functions, eager, under jit, vmap and sharding, in Flax."""
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fastkaiming as fk

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
fkj = pytest.importorskip("fastkaiming.jax")
stats = pytest.importorskip("scipy.stats")


@pytest.fixture(autouse=True)
def _once(isa):
    """The fills are the core's, tested on every kernel elsewhere: one kernel is enough here."""
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("one kernel is enough")


def host(x):
    return np.asarray(x)


# each initializer, the fastkaiming fill with the same law (2-D shapes: JAX's fans are Keras')
PAIRS = [
    (lambda: fkj.he_normal(), lambda shape, dt, seed: fk.he_normal(shape, dt, seed=seed)),
    (lambda: fkj.he_uniform(), lambda shape, dt, seed: fk.he_uniform(shape, dt, seed=seed)),
    (lambda: fkj.glorot_normal(), lambda shape, dt, seed: fk.glorot_normal(shape, dt, seed=seed)),
    (lambda: fkj.glorot_uniform(), lambda shape, dt, seed: fk.glorot_uniform(shape, dt, seed=seed)),
    (lambda: fkj.lecun_normal(), lambda shape, dt, seed: fk.lecun_normal(shape, dt, seed=seed)),
    (lambda: fkj.lecun_uniform(), lambda shape, dt, seed: fk.lecun_uniform(shape, dt, seed=seed)),
    (lambda: fkj.variance_scaling(0.5, "fan_out", "normal"),
     lambda shape, dt, seed: fk.variance_scaling(shape, dt, 0.5, "fan_out", "normal", seed=seed)),
    (lambda: fkj.normal(0.02), lambda shape, dt, seed: fk.normal(shape, dt, std=0.02, seed=seed)),
    (lambda: fkj.uniform(0.1), lambda shape, dt, seed: fk.uniform(shape, dt, a=0.0, b=0.1, seed=seed)),
    (lambda: fkj.truncated_normal(0.5, lower=-1.0, upper=1.5),
     lambda shape, dt, seed: fk.trunc_normal(shape, dt, std=0.5, a=-0.5, b=0.75, seed=seed)),
]  # fmt: skip
NAMES = ["he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "lecun_normal", "lecun_uniform",
         "variance_scaling", "normal", "uniform", "truncated_normal"]  # fmt: skip
DTYPES = ["float16", "bfloat16", "float32"]


def test_key_to_seed_and_stream():
    assert fkj.seed_and_stream(jax.random.PRNGKey(7)) == (7, 0)
    assert fkj.seed_and_stream(jax.random.key(7)) == (7, 0)
    assert fkj.seed_and_stream(np.array([1, 2], np.uint32)) == ((1 << 32) | 2, 0)
    assert fkj.seed_and_stream(np.array([1, 2, 3, 4], np.uint32)) == ((1 << 32) | 2, (3 << 32) | 4)
    rbg = jax.random.key(5, impl="rbg")
    w = [int(x) for x in jax.random.key_data(rbg)]
    assert fkj.seed_and_stream(rbg) == (w[0] << 32 | w[1], w[2] << 32 | w[3])
    a, b = jax.random.split(jax.random.key(0))
    assert fkj.seed_and_stream(a) != fkj.seed_and_stream(b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pair", PAIRS, ids=NAMES)
def test_eager_and_jit_give_the_fill_of_the_key_seed(pair, dtype):
    make, fill = pair
    init = make()
    key = jax.random.key(11)
    eager = init(key, (24, 40), dtype)
    jitted = jax.jit(init, static_argnums=(1, 2))(key, (24, 40), dtype)
    assert eager.dtype == jitted.dtype == np.dtype(jnp.dtype(dtype)) and eager.shape == (24, 40)
    expected = fill((24, 40), dtype, 11)
    np.testing.assert_array_equal(host(eager).view(np.uint8), expected.view(np.uint8))
    np.testing.assert_array_equal(host(jitted).view(np.uint8), expected.view(np.uint8))
    raw = init(jax.random.PRNGKey(11), (24, 40), dtype)  # the raw uint32[2] key: the same seed
    np.testing.assert_array_equal(host(raw).view(np.uint8), expected.view(np.uint8))


def test_float64_with_x64_and_default_dtype():
    init = fkj.he_normal()
    key = jax.random.key(3)
    assert init(key, (4, 6)).dtype == np.float32  # None: JAX's default float
    assert init(key, (4, 6), jnp.float64).dtype == np.float32  # no x64: canonicalized, as JAX does
    with jax.enable_x64(True):
        eager = init(key, (40, 60))
        jitted = jax.jit(lambda k: init(k, (40, 60), "float64"))(key)
        assert eager.dtype == jitted.dtype == np.float64
        np.testing.assert_array_equal(host(eager), fk.he_normal((40, 60), "float64", seed=3))
        np.testing.assert_array_equal(host(jitted), host(eager))


def test_dtype_of_the_constructor_is_the_default():
    key = jax.random.key(2)
    assert fkj.lecun_uniform(dtype=jnp.bfloat16)(key, (8, 8)).dtype == jnp.bfloat16
    assert fkj.normal(dtype="float16")(key, (8, 8), jnp.float32).dtype == np.float32


def test_fans_as_jax_computes_them():
    """Conv kernels with tuple axes and batch_axis: variance = scale / fan, JAX's formula by hand."""
    key = jax.random.key(4)
    shape = (3, 3, 16, 32)
    cases = [  # (axes, fan_in, fan_out): receptive = size / in / out / batch
        ({}, 16 * 9, 32 * 9),
        ({"in_axis": (0, 1), "out_axis": -1, "batch_axis": 2}, 9, 32),
        ({"in_axis": 2, "out_axis": 3, "batch_axis": (0,)}, 16 * 3, 32 * 3),
    ]
    for axes, fan_in, fan_out in cases:
        for mode, n in [("fan_in", fan_in), ("fan_out", fan_out), ("fan_avg", (fan_in + fan_out) / 2),
                        ("fan_geo_avg", (fan_in * fan_out) ** 0.5)]:  # fmt: skip
            got = fkj.variance_scaling(2.0, mode, "normal", **axes)(key, shape)
            np.testing.assert_array_equal(host(got), fk.normal(shape, std=(2.0 / n) ** 0.5, seed=4))
    # 1-D with explicit axes, as JAX allows: in = out = 10, receptive 10 / 10 / 10, fan_in 1
    got = fkj.variance_scaling(1.0, "fan_in", "uniform", in_axis=0, out_axis=0)(key, (10,))
    np.testing.assert_array_equal(host(got), fk.uniform((10,), a=-(3**0.5), b=3**0.5, seed=4))


@pytest.mark.parametrize("name,ours,theirs", [
    ("he_normal", lambda: fkj.he_normal(), lambda: jax.nn.initializers.he_normal()),
    ("glorot_uniform", lambda: fkj.glorot_uniform(), lambda: jax.nn.initializers.glorot_uniform()),
    ("lecun_normal", lambda: fkj.lecun_normal(in_axis=(0, 1), batch_axis=2),
     lambda: jax.nn.initializers.lecun_normal(in_axis=(0, 1), batch_axis=2)),
    ("truncated_normal", lambda: fkj.truncated_normal(0.3, lower=-1.0, upper=2.5),
     lambda: jax.nn.initializers.truncated_normal(0.3, lower=-1.0, upper=2.5)),
    ("uniform", lambda: fkj.uniform(-0.5), lambda: jax.nn.initializers.uniform(-0.5)),
])  # fmt: skip
def test_same_law_as_jax(name, ours, theirs):
    """Two-sample KS against JAX's own initializer: fixed keys, so a fixed p-value (no flake)."""
    shape = (5, 5, 64, 32)
    a = host(ours()(jax.random.key(0), shape)).ravel()
    b = host(theirs()(jax.random.key(1), shape)).ravel()
    assert stats.ks_2samp(a, b).pvalue > 0.01
    assert a.std() == pytest.approx(b.std(), rel=0.02)


def test_vmap_over_keys_each_key_its_own_values():
    init = fkj.glorot_normal()
    keys = jax.random.split(jax.random.key(9), 4)
    batched = jax.vmap(lambda k: init(k, (6, 5)))(keys)
    one_by_one = np.stack([host(init(k, (6, 5))) for k in keys])
    assert batched.shape == (4, 6, 5)
    np.testing.assert_array_equal(host(batched), one_by_one)
    assert len({row.tobytes() for row in one_by_one}) == 4
    np.testing.assert_array_equal(host(jax.jit(jax.vmap(lambda k: init(k, (6, 5))))(keys)), one_by_one)
    raw = jax.vmap(lambda k: init(k, (6, 5)))(jax.random.key_data(keys))  # raw uint32[4, 2] keys
    np.testing.assert_array_equal(host(raw), one_by_one)
    grid = jax.random.split(jax.random.key(9), (2, 3))
    nested = jax.jit(jax.vmap(jax.vmap(lambda k: init(k, (6, 5)))))(grid)
    assert nested.shape == (2, 3, 6, 5)
    np.testing.assert_array_equal(host(nested[1, 2]), host(init(grid[1, 2], (6, 5))))


def test_eager_result_adopts_the_filled_buffer(monkeypatch):
    """Eagerly the host buffer becomes the array: same address, no copy."""
    filled = []
    original = fkj._host

    def spy(*args, **kwargs):
        filled.append(original(*args, **kwargs))
        return filled[-1]

    monkeypatch.setattr(fkj, "_host", spy)
    for dtype in DTYPES:
        w = fkj.he_uniform()(jax.random.key(0), (256, 128), dtype)
        assert filled[-1].ctypes.data % 64 == 0
        assert w.unsafe_buffer_pointer() == filled[-1].ctypes.data


def test_zero_size_and_scalar_shapes():
    key = jax.random.key(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fkj.he_normal()(key, (0, 8)).shape == (0, 8)
        assert jax.jit(lambda k: fkj.he_normal()(k, (8, 0)))(key).shape == (8, 0)
    expected = fk.normal((), std=1.0, seed=1)
    np.testing.assert_array_equal(host(fkj.normal(1.0)(key, ())), expected)
    mesh = jax.sharding.Mesh(jax.devices()[:1], ("x",))
    for sharding in (jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()),
                     jax.sharding.SingleDeviceSharding(jax.devices()[0])):  # fmt: skip
        init = fkj.normal(1.0)
        np.testing.assert_array_equal(host(init(key, (), out_sharding=sharding)), expected)
        jitted = jax.jit(lambda k, init=init, sharding=sharding: init(k, (), out_sharding=sharding))
        np.testing.assert_array_equal(host(jitted(key)), expected)


def test_flax_linen_kernel_init_eager_and_jit():
    nn = pytest.importorskip("flax.linen")
    model = nn.Sequential([nn.Dense(64, kernel_init=fkj.he_normal()), nn.relu,
                           nn.Conv(8, (3, 3), kernel_init=fkj.glorot_uniform(), param_dtype=jnp.bfloat16)])  # fmt: skip
    x = jnp.ones((1, 5, 5, 16))
    eager = model.init(jax.random.key(0), x)
    jitted = jax.jit(model.init)(jax.random.key(0), x)
    for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted), strict=True):
        np.testing.assert_array_equal(host(a), host(b))
    dense = host(eager["params"]["layers_0"]["kernel"])
    conv = eager["params"]["layers_2"]["kernel"]
    assert dense.shape == (16, 64) and conv.shape == (3, 3, 64, 8) and conv.dtype == jnp.bfloat16
    assert np.abs(dense).max() <= 2 * (2 / 16) ** 0.5 / 0.87962566103423978 * (1 + 2**-20)
    assert np.abs(host(conv).astype(np.float32)).max() <= (6 / (9 * 64 + 9 * 8)) ** 0.5


def test_flax_nnx_kernel_init():
    nnx = pytest.importorskip("flax.nnx")
    a = nnx.Linear(32, 16, kernel_init=fkj.lecun_normal(), rngs=nnx.Rngs(0))
    b = nnx.Linear(32, 16, kernel_init=fkj.lecun_normal(), rngs=nnx.Rngs(0))
    c = nnx.Linear(32, 16, kernel_init=fkj.lecun_normal(), rngs=nnx.Rngs(1))
    ka, kb, kc = (host(m.kernel[...]) for m in (a, b, c))
    assert ka.shape == (32, 16) and ka.dtype == np.float32
    np.testing.assert_array_equal(ka, kb)
    assert not np.array_equal(ka, kc)
    jitted = nnx.jit(lambda: nnx.Linear(32, 16, kernel_init=fkj.lecun_normal(), rngs=nnx.Rngs(0)))()
    np.testing.assert_array_equal(host(jitted.kernel[...]), ka)


SHARDED = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
import numpy as np, jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import fastkaiming as fk, fastkaiming.jax as fkj

assert len(jax.devices()) == 4
mesh = Mesh(np.array(jax.devices()).reshape(2, 2), ("x", "y"))
blocks = []
original = fkj._host
def spy(fill, shape, name, words, block=None):
    blocks.append((shape, block))
    return original(fill, shape, name, words, block)
fkj._host = spy
key = jax.random.key(5)
shape = (36, 20)
for sharding in [NamedSharding(mesh, spec) for spec in (P("x", "y"), P("y", None), P(None, ("x", "y")), P())] + [
        jax.sharding.SingleDeviceSharding(jax.devices()[2])]:
    for init, dtype in ((fkj.he_normal(), "float32"), (fkj.glorot_uniform(), "bfloat16"),
                        (fkj.truncated_normal(0.1), "float16")):
        whole = np.asarray(init(key, shape, dtype))
        blocks.clear()
        w = init(key, shape, dtype, out_sharding=sharding)
        assert w.sharding == sharding, (w.sharding, sharding)
        distinct = {tuple(s.indices(n)[:2] for s, n in zip(shard.index, shape)) for shard in w.addressable_shards}
        starts = {tuple((a, a + n) for a, n in zip(b[1][1], b[0])) for b in blocks}
        assert len(blocks) == len(distinct) and starts == distinct, (blocks, distinct)
        for shard in w.addressable_shards:
            np.testing.assert_array_equal(np.asarray(shard.data).view(np.uint8), whole[shard.index].view(np.uint8))
        np.testing.assert_array_equal(np.asarray(w).view(np.uint8), whole.view(np.uint8))
        blocks.clear()
        jitted = jax.jit(lambda k: init(k, shape, dtype, out_sharding=sharding))(key)
        assert jitted.sharding.is_equivalent_to(sharding, 2)
        np.testing.assert_array_equal(np.asarray(jitted).view(np.uint8), whole.view(np.uint8))
        if isinstance(sharding, NamedSharding):  # one block fill per device, under jit too
            local = w.addressable_shards[0].data.shape
            assert len(blocks) == 4 and {b[0] for b in blocks} == {local}, blocks
            assert {tuple((a, a + n) for a, n in zip(b[1][1], b[0])) for b in blocks} == distinct
        else:  # one device: the whole array
            assert [b[0] for b in blocks] == [shape] and w.devices() == {jax.devices()[2]}, blocks
keys = jax.random.split(key, 3)
sharding = NamedSharding(mesh, P("x", "y"))
batched = jax.jit(jax.vmap(lambda k: fkj.he_normal()(k, (36, 20), out_sharding=sharding)))(keys)
for i in range(3):
    np.testing.assert_array_equal(np.asarray(batched[i]), np.asarray(fkj.he_normal()(keys[i], (36, 20))))
print("ok")
"""


def test_sharded_output_is_block_filled_and_equals_the_whole():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(SHARDED)], capture_output=True, text=True,
                          timeout=240, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "ok\n"


def test_arguments_are_checked_when_made():
    cases = [
        (lambda: fkj.variance_scaling(0.0, "fan_in", "normal"), ValueError, r"^scale must be > 0, got 0.0$"),
        (lambda: fkj.variance_scaling(1.0, "fan_sum", "normal"), ValueError, r"^mode must be one of 'fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg', got 'fan_sum'$"),
        (lambda: fkj.variance_scaling(1.0, "fan_in", "untruncated_normal"), ValueError, r"^distribution must be one of 'truncated_normal', 'normal', 'uniform', got 'untruncated_normal'$"),
        (lambda: fkj.he_normal(in_axis=1.5), TypeError, r"^in_axis must be an int, got float 1.5$"),
        (lambda: fkj.he_normal(batch_axis=["0"]), TypeError, r"^batch_axis must be an int, got str '0'$"),
        (lambda: fkj.he_normal(dtype="int32"), TypeError, r"^dtype must be one of float16, float32, float64, bfloat16, got '<i4' \(int32\)$"),
        (lambda: fkj.he_normal(dtype=jnp.complex64), TypeError, r"^dtype must be one of float16, float32, float64, bfloat16, got '<c8' \(complex64\)$"),
        (lambda: fkj.normal(-1.0), ValueError, r"^stddev must be >= 0, got -1.0$"),
        (lambda: fkj.uniform("1"), TypeError, r"^scale must be a real number, got str '1'$"),
        (lambda: fkj.truncated_normal(0.0), ValueError, r"^stddev must be > 0, got 0.0$"),
        (lambda: fkj.truncated_normal(1.0, lower=1.0, upper=1.0), ValueError, r"^truncated_normal expects lower < upper, got lower=1.0, upper=1.0$"),
    ]  # fmt: skip
    for make, kind, message in cases:
        with pytest.raises(kind, match=message):
            make()


def test_init_checks_key_shape_dtype_and_sharding():
    init = fkj.he_normal()
    key = jax.random.key(0)
    cases = [
        (lambda: init(0, (4, 4)), TypeError, r"^key must be a JAX PRNG key \(jax.random.key\(...\) or jax.random.PRNGKey\(...\)\), got int 0$"),
        (lambda: init(np.zeros(3, np.uint32), (4, 4)), TypeError, r"^key must be a JAX PRNG key: a typed key or uint32 key data of shape \(2,\) or \(4,\), got a uint32 array of shape \(3,\)$"),
        (lambda: init(jnp.zeros(2, jnp.float32), (4, 4)), TypeError, r"got a float32 array of shape \(2,\)$"),
        (lambda: init(key, (4, -1)), ValueError, r"^shape must not have negative dimensions, got \(4, -1\)$"),
        (lambda: init(key, (8,)), ValueError, r"^can't compute the fans of a 1-dimensional weights tensor with the default in_axis=-2"),
        (lambda: fkj.he_normal(in_axis=2)(key, (4, 4)), ValueError, r"^in_axis=2 is out of range for a shape of 2 dimensions, \(4, 4\)$"),
        (lambda: init(key, (4, 4), "int8"), TypeError, r"^dtype must be one of float16, float32, float64, bfloat16, got '\|i1' \(int8\)$"),
        (lambda: init(key, (4, 4), out_sharding="x"), TypeError, r"^out_sharding must be a jax.sharding.Sharding \(e.g. a NamedSharding\) or None, got str 'x'$"),
        (lambda: jax.jit(lambda k: fkj.seed_and_stream(k))(key), TypeError, r"^key is traced"),
    ]  # fmt: skip
    for call, kind, message in cases:
        with pytest.raises(kind, match=message):
            call()


def test_dtype_dependent_checks_run_at_trace_time_not_in_the_callback():
    """A std beyond float32's range fails when traced for float32, before any callback."""
    init = fkj.truncated_normal(1e39)
    with pytest.raises(ValueError, match=r"std=1e\+39 is out of range for the float32 truncated normal"):
        jax.jit(lambda k: init(k, (4, 4)))(jax.random.key(0))
    with jax.enable_x64(True):  # float64 holds it
        assert np.all(np.isfinite(host(init(jax.random.key(0), (4, 4), "float64"))))


def test_abstract_evaluation_runs_no_fill(monkeypatch):
    """jax.eval_shape (Flax's abstract init) traces the callback without calling it."""
    monkeypatch.setattr(fkj, "_host", lambda *args: pytest.fail("filled during eval_shape"))
    out = jax.eval_shape(lambda k: fkj.he_uniform()(k, (12, 7), jnp.float16), jax.random.key(0))
    assert out.shape == (12, 7) and out.dtype == np.float16


def test_docstring_examples_run():
    import doctest

    assert doctest.testmod(fkj, raise_on_error=False).failed == 0
