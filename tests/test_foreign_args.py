"""Arguments from other frameworks: torch and JAX dtypes, 0-d arrays where numbers are taken."""
import subprocess
import sys

import numpy as np
import pytest

import fastkaiming as fk


@pytest.fixture(autouse=True)
def _once(isa):
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("argument handling does not depend on the kernel")


def test_torch_dtypes_in_constructors_and_fills():
    torch = pytest.importorskip("torch")
    for dtype, name in [(torch.float32, "float32"), (torch.float16, "float16"), (torch.float64, "float64"),
                        (torch.half, "float16")]:  # fmt: skip
        got = fk.he_normal((6, 5), dtype, seed=1)
        assert got.dtype == np.dtype(name)
        np.testing.assert_array_equal(got, fk.he_normal((6, 5), name, seed=1))
        np.testing.assert_array_equal(fk.normal_(np.empty((6, 5), name), dtype=dtype, seed=2),
                                      fk.normal((6, 5), name, seed=2))  # fmt: skip
    raw = bytearray(2 * 8)  # a raw byte buffer read through a torch dtype
    fk.uniform_(raw, dtype=torch.float16, seed=3)
    np.testing.assert_array_equal(np.frombuffer(raw, np.float16), fk.uniform(8, "float16", seed=3))
    t = torch.empty(4, 4, dtype=torch.bfloat16)
    assert fk.kaiming_normal_(t, dtype=torch.bfloat16, seed=0) is t


def test_torch_bfloat16_constructor_is_an_ml_dtypes_array():
    torch = pytest.importorskip("torch")
    ml_dtypes = pytest.importorskip("ml_dtypes")
    got = fk.glorot_uniform((8, 3), torch.bfloat16, seed=4)
    assert got.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(got.view(np.uint16), fk.glorot_uniform((8, 3), "bfloat16", seed=4).view(np.uint16))


def test_torch_dtype_errors_name_the_torch_dtype():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"^dtype must be one of float16, float32, float64, bfloat16, got torch.int32$"):
        fk.he_normal((4, 4), torch.int32, seed=0)
    with pytest.raises(TypeError, match=r"^dtype must be one of float16, float32, float64, bfloat16, got torch.complex64$"):
        fk.normal_(np.empty(4, np.float32), dtype=torch.complex64, seed=0)
    with pytest.raises(TypeError, match=r"^dtype=float16 does not match the tensor's dtype float32$"):
        fk.normal_(np.empty(4, np.float32), dtype=torch.float16, seed=0)
    with pytest.raises(TypeError, match=r"^dtype=float64 does not match the tensor's dtype torch.float32$"):
        fk.normal_(torch.empty(4), dtype=torch.float64, seed=0)


def test_jax_dtypes_in_constructors_and_fills():
    jnp = pytest.importorskip("jax.numpy")
    ml_dtypes = pytest.importorskip("ml_dtypes")
    for dtype, name in [(jnp.float32, "float32"), (jnp.float16, "float16"), (jnp.dtype("float64"), "float64")]:
        np.testing.assert_array_equal(fk.lecun_normal((5, 7), dtype, seed=1), fk.lecun_normal((5, 7), name, seed=1))
        np.testing.assert_array_equal(fk.uniform_(np.empty(9, name), dtype=dtype, seed=1), fk.uniform(9, name, seed=1))
    assert fk.normal((3, 3), jnp.bfloat16, seed=0).dtype == ml_dtypes.bfloat16
    assert fk.normal((3, 3), jnp.dtype(jnp.bfloat16), seed=0).dtype == ml_dtypes.bfloat16
    with pytest.raises(TypeError, match=r"^dtype must be one of float16, float32, float64, bfloat16, got 'int32'$"):
        fk.normal((3, 3), jnp.int32, seed=0)
    with pytest.raises(TypeError, match=r"^dtype must be one of float16, float32, float64, bfloat16, got '<i4' \(int32\)$"):
        fk.normal_(np.empty(3, np.float32), dtype=jnp.int32, seed=0)


def zero_d_scalars():
    """(framework, 0-d float array maker, 0-d int array maker) for every framework installed."""
    makers = [("numpy", lambda x: np.array(x, np.float64), lambda n: np.array(n, np.int64))]
    try:
        import torch

        makers.append(("torch", lambda x: torch.tensor(x, dtype=torch.float32), lambda n: torch.tensor(n)))
    except ImportError:
        pass
    try:
        import jax.numpy as jnp

        makers.append(("jax", lambda x: jnp.array(x, jnp.float32), lambda n: jnp.array(n, jnp.int32)))
    except ImportError:
        pass
    return makers


@pytest.mark.parametrize("framework,real,integer", zero_d_scalars(), ids=[m[0] for m in zero_d_scalars()])
def test_zero_d_arrays_wherever_numbers_are_taken(framework, real, integer):
    r = lambda x: float(np.float32(x)) if framework != "numpy" else x  # the value the array holds
    shape = (64, 32)
    pairs = [
        (fk.normal(shape, mean=real(0.5), std=real(0.25), seed=integer(3), stream=integer(2)),
         fk.normal(shape, mean=r(0.5), std=r(0.25), seed=3, stream=2)),
        (fk.uniform(shape, a=real(-0.1), b=real(0.3), seed=1, offset=integer(5)),
         fk.uniform(shape, a=r(-0.1), b=r(0.3), seed=1, offset=5)),
        (fk.trunc_normal(shape, mean=real(0.0), std=real(0.5), a=real(-0.5), b=real(1.0), seed=1),
         fk.trunc_normal(shape, mean=0.0, std=r(0.5), a=r(-0.5), b=r(1.0), seed=1)),
        (fk.kaiming_normal(shape, a=real(0.1), fan_in=integer(10), threads=integer(1), seed=1),
         fk.kaiming_normal(shape, a=r(0.1), fan_in=10, threads=1, seed=1)),
        (fk.xavier_uniform(shape, gain=real(1.5), seed=1), fk.xavier_uniform(shape, gain=r(1.5), seed=1)),
        (fk.variance_scaling(shape, "float32", real(2.0), seed=1), fk.variance_scaling(shape, "float32", 2.0, seed=1)),
        (fk.he_normal(shape, in_axis=integer(0), out_axis=integer(1), seed=1),
         fk.he_normal(shape, in_axis=0, out_axis=1, seed=1)),
    ]
    for got, expected in pairs:
        np.testing.assert_array_equal(got, expected)
    assert fk.calculate_gain("leaky_relu", real(0.2)) == fk.calculate_gain("leaky_relu", r(0.2))
    assert fk.compute_fans([integer(3), integer(4)]) == (4, 3)


def test_zero_d_bfloat16_scalars():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    half = ml_dtypes.bfloat16(0.5)
    np.testing.assert_array_equal(fk.normal(8, std=half, seed=0), fk.normal(8, std=0.5, seed=0))
    np.testing.assert_array_equal(fk.normal(8, std=np.array(half), seed=0), fk.normal(8, std=0.5, seed=0))


def test_zero_d_arrays_that_are_refused_are_named():
    cases = [
        (lambda: fk.normal(4, std=np.array(True), seed=0), TypeError, r"^std must be a real number, got ndarray array\(True\)$"),
        (lambda: fk.normal(4, std=np.array([0.5]), seed=0), TypeError, r"^std must be a real number, got ndarray array\(\[0.5\]\)$"),
        (lambda: fk.normal(4, std=np.array(1j), seed=0), TypeError, r"^std must be a real number, got ndarray array\(0.\+1.j\)$"),
        (lambda: fk.normal(4, seed=np.array(1.0)), TypeError, r"^seed must be an int, got ndarray array\(1.\)$"),
        (lambda: fk.normal(4, std=np.array(np.inf), seed=0), ValueError, r"^std must be finite, got inf$"),
        (lambda: fk.normal(4, std=np.array(-1.0), seed=0), ValueError, r"^std must be >= 0, got -1.0$"),
        (lambda: fk.normal(4, seed=np.array(-1), stream=0), ValueError, r"^seed must be an int in \[0, 2\*\*64\), got -1$"),
        (lambda: fk.calculate_gain("leaky_relu", np.array([0.1])), ValueError, r"^negative_slope \[0.1\] not a valid number$"),
    ]  # fmt: skip
    for call, kind, message in cases:
        with pytest.raises(kind, match=message):
            call()


def test_torch_and_jax_zero_d_refusals():
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    cases = [
        (lambda: fk.normal(4, std=torch.tensor(True), seed=0), r"^std must be a real number, got Tensor tensor\(True\)$"),
        (lambda: fk.normal(4, std=torch.tensor(0.5, device="meta"), seed=0), r"^std must be a real number, got Tensor tensor\(\.\.\., device='meta', size=\(\)\)$"),
        (lambda: fk.normal(4, seed=torch.tensor(1.0)), r"^seed must be an int, got Tensor tensor\(1.\)$"),
        (lambda: fk.normal(4, std=jax.numpy.ones(2), seed=0), r"^std must be a real number, got ArrayImpl Array\(\[1., 1.\], dtype=float32\)$"),
        (lambda: fk.normal(4, std=jax.random.key(0), seed=0), r"^std must be a real number, got PRNGKeyArray Array\(\(\), dtype=key<fry>\)"),
        (lambda: jax.jit(lambda s: fk.normal(4, std=s, seed=0))(0.5), r"^std must be a real number, got DynamicJaxprTracer"),
    ]  # fmt: skip
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()


def test_neither_torch_nor_jax_is_imported_to_check_an_argument():
    code = (
        "import sys, numpy as np, fastkaiming as fk\n"
        "fk.normal(4, std=np.array(0.5), seed=np.array(1), dtype=np.float16)\n"
        "for call in (lambda: fk.normal(4, 'int8'), lambda: fk.normal(4, std=object()),\n"
        "             lambda: fk.normal_(np.empty(4, np.float32), dtype=object()), lambda: fk.normal(4, seed=[1])):\n"
        "    try:\n        call()\n    except TypeError:\n        pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'jax', 'jaxlib')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
