"""fastkaiming.keras: Keras 3 initializers with Keras' arguments, law, seeds and serialization.

The tests run on the backend this process's Keras has (KERAS_BACKEND);
test_every_backend_passes runs this file again in a fresh process per installed backend.
"""
import importlib.util
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastkaiming as fk

try:
    import keras
except ImportError as exc:  # not installed, or KERAS_BACKEND names one that is not
    keras = None
    KERAS_MISSING = str(exc)

fkk = pytest.importorskip("fastkaiming.keras") if keras is not None else None
BACKEND = keras.backend.backend() if keras is not None else None
WIDEST = max(fk._core.isa_names().values())
DTYPES = ["float16", "bfloat16", "float32", "float64"]

# (class, arguments, the fastkaiming fill and its arguments: the same law, bit for bit)
CASES = {
    "HeNormal": ({}, fk.variance_scaling_, (2.0, "fan_in", "truncated_normal")),
    "HeUniform": ({}, fk.variance_scaling_, (2.0, "fan_in", "uniform")),
    "GlorotNormal": ({}, fk.variance_scaling_, (1.0, "fan_avg", "truncated_normal")),
    "GlorotUniform": ({}, fk.variance_scaling_, (1.0, "fan_avg", "uniform")),
    "LecunNormal": ({}, fk.variance_scaling_, (1.0, "fan_in", "truncated_normal")),
    "LecunUniform": ({}, fk.variance_scaling_, (1.0, "fan_in", "uniform")),
    "VarianceScaling": ({"scale": 0.5, "mode": "fan_out", "distribution": "untruncated_normal"},
                        fk.variance_scaling_, (0.5, "fan_out", "untruncated_normal")),
    "TruncatedNormal": ({"mean": 0.1, "stddev": 0.3}, fk.trunc_normal_, (0.1, 0.3, 0.1 - 0.6, 0.1 + 0.6)),
    "RandomNormal": ({"mean": -0.2, "stddev": 0.7}, fk.normal_, (-0.2, 0.7)),
    "RandomUniform": ({"minval": -0.3, "maxval": 0.9}, fk.uniform_, (-0.3, 0.9)),
}  # fmt: skip


@pytest.fixture(autouse=True)
def _keras_once(isa, request):
    if request.function is test_every_backend_passes:
        return
    if keras is None:
        pytest.skip(f"needs keras 3 with an installed backend ({KERAS_MISSING})")
    if isa != WIDEST:
        pytest.skip("the fills are the same bits on every kernel (test_determinism); Keras' part runs once")


def numpy_of(x):
    return keras.ops.convert_to_numpy(x)


def fill_dtype(dtype):
    """The dtype Keras' own initializers return for `dtype` on this backend (jax without x64: float32)."""
    if dtype == "float64" and BACKEND == "jax":
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"
    return dtype


def expected(name, shape, dtype, seed, stream=0):
    _, fill, args = CASES[name]
    return fill(fk._constructors.empty(shape, fill_dtype(dtype)), *args, seed=seed, stream=stream)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --- the law -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("shape", [(256, 384), (3, 3, 64, 96), (5,)])
def test_values_are_the_fastkaiming_fill(name, shape):
    """Keras' fans ((*kernel, in, out)) and parameters: the fill's bits at (seed, stream 0)."""
    kwargs, _, _ = CASES[name]
    got = numpy_of(getattr(fkk, name)(seed=11, **kwargs)(shape, "float32"))
    assert same_bits(got, expected(name, shape, "float32", seed=11))


# Two-sample KS against Keras' own initializer; both seeded, so each p-value is one fixed number
# per backend and version (recorded in the report); 2^17 samples each.
KS_SHAPE = (8, 8, 32, 64)  # a Conv2D kernel: torch's fan convention would give another std


@pytest.mark.parametrize("name", CASES)
def test_same_law_as_keras_own(name, record_property):
    stats = pytest.importorskip("scipy.stats")
    kwargs, _, _ = CASES[name]
    seed = 1 + list(CASES).index(name)  # KS is scale-free: one seed for all would repeat one p-value
    ours = numpy_of(getattr(fkk, name)(seed=seed, **kwargs)(KS_SHAPE, "float32")).ravel().astype(np.float64)
    theirs = numpy_of(getattr(keras.initializers, name)(seed=100 + seed, **kwargs)(KS_SHAPE, "float32"))
    theirs = theirs.ravel().astype(np.float64)
    result = stats.ks_2samp(ours, theirs)
    record_property(f"ks_p_{BACKEND}_{name}", result.pvalue)
    assert result.pvalue > 1e-4, (name, result)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.02)


def test_truncated_normal_std_is_keras_constant():
    """HeNormal on a (3, 3, 64, 128) kernel: fan_in = 576, cut at +-2 std, std = sqrt(2/576)/0.8796..."""
    values = numpy_of(fkk.HeNormal(seed=0)((3, 3, 64, 128), "float64")).astype(np.float64)
    std = math.sqrt(2.0 / 576) / 0.87962566103423978
    assert np.abs(values).max() <= 2 * std * (1 + 1e-6)
    assert values.std() == pytest.approx(math.sqrt(2.0 / 576), rel=0.01)  # 73728 samples


@pytest.mark.parametrize("distribution,keras_name", [("normal", "truncated_normal"), ("Uniform", "uniform"),
                                                      ("UNTRUNCATED_NORMAL", "untruncated_normal")])  # fmt: skip
def test_distribution_names_as_keras(distribution, keras_name):
    ours = fkk.VarianceScaling(distribution=distribution, seed=0)
    assert ours.distribution == keras.initializers.VarianceScaling(distribution=distribution).distribution
    assert ours.distribution == keras_name


def test_input_and_output_axes_as_keras():
    """Both given: fan_in, fan_out are the products of those axes (no receptive field)."""
    init = fkk.VarianceScaling(2.0, "fan_avg", "uniform", seed=4, input_axes=[0, 1], output_axes=[-1])
    got = numpy_of(init((4, 5, 6, 7), "float32"))
    want = fk.variance_scaling_(np.empty((4, 5, 6, 7), np.float32), 2.0, "fan_avg", "uniform", fan_in=20,
                                fan_out=7, seed=4)  # fmt: skip
    assert same_bits(got, want)
    only_one = fkk.VarianceScaling(seed=4, input_axes=[0])  # Keras ignores one without the other
    assert same_bits(numpy_of(only_one((4, 5), "float32")), numpy_of(fkk.LecunNormal(seed=4)((4, 5), "float32")))


# --- dtypes --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["HeNormal", "GlorotUniform", "TruncatedNormal", "RandomNormal"])
def test_every_float_dtype(name, dtype):
    kwargs, _, _ = CASES[name]
    got = getattr(fkk, name)(seed=3, **kwargs)((64, 48), dtype)
    own = getattr(keras.initializers, name)(seed=3, **kwargs)((64, 48), dtype)
    assert keras.backend.standardize_dtype(got.dtype) == keras.backend.standardize_dtype(own.dtype)
    assert type(got) is type(own)
    assert same_bits(numpy_of(got), expected(name, (64, 48), dtype, seed=3))


def test_dtype_objects_and_floatx():
    init = fkk.HeUniform(seed=5)
    want = expected("HeUniform", (6, 4), "float16", seed=5)
    assert same_bits(numpy_of(init((6, 4), np.float16)), want)
    assert same_bits(numpy_of(init((6, 4), np.dtype("float16"))), want)
    old = keras.config.floatx()
    try:
        keras.config.set_floatx("float16")
        assert same_bits(numpy_of(init((6, 4))), want)
    finally:
        keras.config.set_floatx(old)


@pytest.mark.parametrize("dtype", ["int32", "bool", "complex64", "float8", "nope", 3])
def test_dtype_must_be_a_float_dtype(dtype):
    with pytest.raises(TypeError, match=r"dtype must be one of float16, bfloat16, float32, float64 .*got"):
        fkk.HeNormal(seed=0)((4, 4), dtype)


def test_zero_element_shape_is_empty():
    got = numpy_of(fkk.HeNormal(seed=0)((0, 4), "float32"))
    assert got.shape == (0, 4) and got.dtype == np.float32


def test_bad_shape():
    with pytest.raises(ValueError, match=r"shape must not have negative dimensions, got \(-1, 4\)"):
        fkk.HeNormal(seed=0)((-1, 4))


# --- seeds ---------------------------------------------------------------------------------


def test_int_seed_gives_the_same_values_at_every_call_as_keras():
    ours, own = fkk.HeNormal(seed=7), keras.initializers.HeNormal(seed=7)
    assert same_bits(numpy_of(ours((32, 16))), numpy_of(ours((32, 16))))
    assert same_bits(numpy_of(own((32, 16))), numpy_of(own((32, 16))))  # Keras' own does the same
    assert not same_bits(numpy_of(ours((32, 16))), numpy_of(fkk.HeNormal(seed=8)((32, 16))))


def test_no_seed_draws_one_per_instance():
    a, b = fkk.GlorotNormal(), fkk.GlorotNormal()
    assert same_bits(numpy_of(a((32, 16))), numpy_of(a((32, 16))))  # as Keras: one seed per instance
    assert not same_bits(numpy_of(a((32, 16))), numpy_of(b((32, 16))))
    assert isinstance(a.seed, int) and 0 <= a.seed < 2**64
    assert same_bits(numpy_of(a((32, 16), "float32")), expected("GlorotNormal", (32, 16), "float32", seed=a.seed))


def state(generator):
    return [int(v) for v in numpy_of(generator.state.value)]


def test_seed_generator_gives_new_values_at_every_call_and_advances_as_keras():
    generator, theirs = keras.random.SeedGenerator(5), keras.random.SeedGenerator(5)
    init, own = fkk.HeNormal(seed=generator), keras.initializers.HeNormal(seed=theirs)
    first, second = numpy_of(init((32, 16), "float32")), numpy_of(init((32, 16), "float32"))
    own((32, 16), "float32")
    own((32, 16), "float32")
    assert state(generator) == state(theirs) == [5, 2]
    assert same_bits(first, expected("HeNormal", (32, 16), "float32", seed=5, stream=0))
    assert same_bits(second, expected("HeNormal", (32, 16), "float32", seed=5, stream=1))
    assert same_bits(first, numpy_of(fkk.HeNormal(seed=5)((32, 16), "float32")))  # as Keras: [5, 0]


def test_failed_call_draws_nothing_from_the_generator():
    generator = keras.random.SeedGenerator(9)
    init = fkk.RandomUniform(-1e38, 1e38, seed=generator)
    with pytest.raises(ValueError, match="out of range for float16"):
        init((4, 4), "float16")
    with pytest.raises(TypeError, match="dtype must be one of"):
        init((4, 4), "int8")
    assert state(generator) == [9, 0]


@pytest.mark.parametrize("seed,error,message", [
    ("7", TypeError, r"seed must be None, an int in \[0, 2\*\*64\) or a keras.random.SeedGenerator, got str '7'"),
    (1.5, TypeError, r"seed must be None, an int .* got float 1.5"),
    (True, TypeError, r"seed must be None, an int .* got bool True"),
    (-1, ValueError, r"seed must be an int in \[0, 2\*\*64\), got -1"),
    (2**64, ValueError, r"seed must be an int in \[0, 2\*\*64\), got 18446744073709551616"),
])  # fmt: skip
def test_bad_seed(seed, error, message):
    with pytest.raises(error, match=message):
        fkk.HeNormal(seed=seed)
    with pytest.raises(error, match=message):
        fkk.RandomNormal(seed=seed)


# --- arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,error,message", [
    ({"scale": 0.0}, ValueError, r"scale must be > 0, got 0.0"),
    ({"scale": -2}, ValueError, r"scale must be > 0, got -2.0"),
    ({"scale": "1"}, TypeError, r"scale must be a real number, got str '1'"),
    ({"scale": math.inf}, ValueError, r"scale must be finite, got inf"),
    ({"mode": "fan_sum"}, ValueError, r"mode must be one of 'fan_in', 'fan_out', 'fan_avg', got 'fan_sum'"),
    ({"distribution": "gaussian"}, ValueError,
     r"distribution must be one of 'truncated_normal', 'untruncated_normal', 'uniform', got 'gaussian'"),
    ({"distribution": None}, ValueError, r"distribution must be one of .* got None"),
    ({"input_axes": 0, "output_axes": [1]}, TypeError, r"input_axes must be None or a sequence of ints, got int 0"),
    ({"input_axes": [0.5], "output_axes": [1]}, TypeError, r"input_axes must be an int, got float 0.5"),
])  # fmt: skip
def test_variance_scaling_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        fkk.VarianceScaling(**kwargs)


def test_axis_out_of_range_at_call():
    init = fkk.VarianceScaling(input_axes=[0], output_axes=[2], seed=0)
    with pytest.raises(ValueError, match=r"output_axes=2 is out of range for a tensor with 2 dimensions"):
        init((3, 4))


@pytest.mark.parametrize("name,kwargs,error,message", [
    ("RandomNormal", {"stddev": -0.1}, ValueError, r"stddev must be >= 0, got -0.1"),
    ("RandomNormal", {"mean": "0"}, TypeError, r"mean must be a real number, got str '0'"),
    ("TruncatedNormal", {"stddev": 0.0}, ValueError, r"stddev must be > 0, got 0.0"),
    ("TruncatedNormal", {"mean": math.nan}, ValueError, r"mean must be finite, got nan"),
    ("TruncatedNormal", {"stddev": 1e308}, ValueError, r"mean=0.0 \+- 2 stddev \(stddev=1e\+308\) is beyond float64"),
    ("RandomUniform", {"minval": 1.0, "maxval": 0.5}, ValueError, r"minval must be <= maxval, got minval=1.0, maxval=0.5"),
    ("RandomUniform", {"maxval": [1.0]}, TypeError, r"maxval must be a real number, got list \[1.0\]"),
])  # fmt: skip
def test_bad_arguments_are_named(name, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(fkk, name)(**kwargs)


def test_zero_d_tensor_scalars():
    init = fkk.RandomNormal(mean=keras.ops.convert_to_tensor(0.5), stddev=np.float32(0.25), seed=2)
    assert init.mean == 0.5 and init.stddev == 0.25 and type(init.mean) is float
    assert same_bits(numpy_of(init((8, 8), "float32")), fk.normal((8, 8), "float32", 0.5, 0.25, seed=2))


# --- serialization -------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_config_round_trip_and_keys_as_keras(name):
    kwargs, _, _ = CASES[name]
    init = getattr(fkk, name)(seed=12, **kwargs)
    config = init.get_config()
    assert sorted(config) == sorted(getattr(keras.initializers, name)(seed=12, **kwargs).get_config())
    again = type(init).from_config(config)
    assert again.get_config() == config
    assert same_bits(numpy_of(again((16, 8), "float32")), numpy_of(init((16, 8), "float32")))
    serialized = keras.saving.serialize_keras_object(init)
    assert serialized["registered_name"] == f"fastkaiming>{name}"
    assert keras.saving.get_registered_name(type(init)) == f"fastkaiming>{name}"
    assert keras.saving.get_registered_object(f"fastkaiming>{name}") is type(init)
    back = keras.initializers.get(serialized)
    assert type(back) is type(init) and back.get_config() == config


def test_seed_generator_config_round_trip():
    init = fkk.HeUniform(seed=keras.random.SeedGenerator(21))
    config = init.get_config()
    assert config["seed"]["class_name"] == "SeedGenerator" and config["seed"]["config"]["seed"] == 21
    again = fkk.HeUniform.from_config(config)
    assert isinstance(again.seed, keras.random.SeedGenerator) and again.get_config() == config
    assert same_bits(numpy_of(again((8, 8), "float32")), expected("HeUniform", (8, 8), "float32", seed=21))


def test_no_seed_config_is_none_as_keras():
    assert fkk.LecunUniform().get_config() == keras.initializers.LecunUniform().get_config()
    assert fkk.LecunUniform().get_config()["seed"] is None


def model():
    return keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, kernel_initializer=fkk.HeNormal(seed=1)),
        keras.layers.Flatten(),
        keras.layers.Dense(5, kernel_initializer=fkk.VarianceScaling(0.5, "fan_avg", "uniform", seed=2),
                           bias_initializer=fkk.RandomNormal(stddev=0.1, seed=keras.random.SeedGenerator(3))),
    ])  # fmt: skip


LOAD = """
import sys, keras, numpy as np
{imports}
m = keras.saving.load_model(sys.argv[1])
print([type(layer.kernel_initializer).__module__ for layer in m.layers if hasattr(layer, "kernel_initializer")])
print(m.layers[2].kernel_initializer.get_config())
np.save(sys.argv[2], keras.ops.convert_to_numpy(m.layers[2].kernel))
"""


def test_saved_model_loads_the_same_config_and_weights(tmp_path):
    m = model()
    path = tmp_path / "m.keras"
    m.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(m.layers, loaded.layers, strict=True):
        assert a.get_config() == b.get_config()
        for w, v in zip(a.weights, b.weights, strict=True):
            assert same_bits(numpy_of(w), numpy_of(v))
    assert type(loaded.layers[0].kernel_initializer) is fkk.HeNormal
    assert same_bits(numpy_of(m.layers[0].kernel), expected("HeNormal", (3, 3, 3, 4), "float32", seed=1))
    # a fresh interpreter, no custom_objects: importing fastkaiming.keras registers the classes
    out = subprocess.run([sys.executable, "-c", LOAD.format(imports="import fastkaiming.keras"), str(path),
                          str(tmp_path / "k.npy")], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    modules, config = out.stdout.split("\n")[:2]
    assert modules == "['fastkaiming.keras', 'fastkaiming.keras']"
    assert config == str(m.layers[2].kernel_initializer.get_config())
    assert same_bits(np.load(tmp_path / "k.npy"), numpy_of(m.layers[2].kernel))


def test_without_the_import_keras_substitutes_its_own_class(tmp_path):
    """Documented: Keras matches a class it does not know by name among its own initializers."""
    path = tmp_path / "m.keras"
    model().save(path)
    out = subprocess.run([sys.executable, "-c", LOAD.format(imports=""), str(path), str(tmp_path / "k.npy")],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == str(["keras.src.initializers.random_initializers"] * 2)
    assert same_bits(np.load(tmp_path / "k.npy"), numpy_of(keras.saving.load_model(path).layers[2].kernel))


# --- layers and the hand-over ----------------------------------------------------------------


def layers(dtype, dense_init, conv_init, embedding_init):
    dense = keras.layers.Dense(6, kernel_initializer=dense_init, dtype=dtype)
    dense.build((None, 10))
    conv = keras.layers.Conv2D(4, (3, 2), kernel_initializer=conv_init, dtype=dtype)
    conv.build((None, 9, 9, 5))
    embedding = keras.layers.Embedding(50, 7, embeddings_initializer=embedding_init, dtype=dtype)
    embedding.build()
    return [dense.kernel, conv.kernel, embedding.embeddings]


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_conv2d_embedding_in_every_dtype(dtype):
    """The layers' variables hold the fills, in the dtype the layers hold Keras' own initializers' values."""
    uniform = CASES["RandomUniform"][0]
    ours = layers(dtype, fkk.GlorotUniform(seed=1), fkk.HeNormal(seed=2), fkk.RandomUniform(**uniform, seed=3))
    own = layers(dtype, "glorot_uniform", "he_normal", keras.initializers.RandomUniform(**uniform))
    for variable, theirs, name, shape, seed in zip(ours, own, ["GlorotUniform", "HeNormal", "RandomUniform"],
                                                   [(10, 6), (3, 2, 5, 4), (50, 7)], [1, 2, 3], strict=True):  # fmt: skip
        got, held = numpy_of(variable), numpy_of(theirs).dtype  # (the numpy backend holds float64 as float32)
        assert got.dtype == held, (name, dtype)
        assert same_bits(got, expected(name, shape, dtype, seed=seed).astype(held)), (name, dtype)


def data_address(x):
    if BACKEND == "jax":
        return x.unsafe_buffer_pointer()
    if BACKEND == "torch":
        return x.data_ptr()
    if BACKEND == "numpy":
        return x.ctypes.data
    pytest.skip(f"no address check for {BACKEND}")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_handed_over_without_a_copy(dtype, monkeypatch):
    """The filled NumPy buffer becomes the tensor, and (jax, torch) the layer's variable, without a copy."""
    made = []
    empty = fkk._constructors.aligned_empty
    monkeypatch.setattr(fkk._constructors, "aligned_empty", lambda dims, name: made.append(empty(dims, name)) or made[-1])
    tensor = fkk.HeNormal(seed=0)((128, 96), dtype)
    assert data_address(tensor) == made[-1].ctypes.data
    layer = keras.layers.Dense(96, kernel_initializer=fkk.HeNormal(seed=0), use_bias=False, dtype=dtype)
    layer.build((None, 128))
    if BACKEND != "numpy":  # Keras' numpy backend copies every value into its variables (np.array)
        assert data_address(layer.kernel.value) == made[-1].ctypes.data
    assert same_bits(numpy_of(layer.kernel), expected("HeNormal", (128, 96), dtype, seed=0))


# --- import and backends -------------------------------------------------------------------


def test_docstring_examples_run():
    import doctest

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    tests = [t for name in ["_Initializer", *fkk.__all__] for t in finder.find(getattr(fkk, name), name)]
    assert sum(len(t.examples) for t in tests) >= 40
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_missing_keras_names_the_extra():
    code = ("import sys\nsys.modules['keras'] = None  # as if not installed\n"
            "try:\n    import fastkaiming.keras\nexcept ImportError as e:\n    print(e)\n")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert 'pip install "fastkaiming[keras]"' in out.stdout and "fastkaiming.keras needs keras 3" in out.stdout


def installed(backend):
    return backend == "numpy" or importlib.util.find_spec(backend) is not None


@pytest.mark.parametrize("backend", ["jax", "torch", "numpy", "tensorflow"])
def test_every_backend_passes(backend, isa):
    """This file again under KERAS_BACKEND=backend, in a fresh process (the backend is fixed at import)."""
    if importlib.util.find_spec("keras") is None or not installed(backend):
        pytest.skip(f"needs keras and {backend}")
    if isa != WIDEST:
        pytest.skip("the child process runs the widest kernel")
    if backend == BACKEND or os.environ.get("FASTKAIMING_KERAS_CHILD"):
        pytest.skip(f"{backend}: this process runs on it")
    isa = {code: name for name, code in fk._core.isa_names().items()}[WIDEST]
    env = dict(os.environ, KERAS_BACKEND=backend, FASTKAIMING_KERAS_CHILD="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__,
                           "-k", f"{isa} and not every_backend"], env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    tail = done.stdout[-3000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\b[1-9]\d* passed", summary) and not re.search(r"\d+ (failed|error)", summary), tail
