"""Bad input: a clear exception naming the argument, before a single byte is written."""
import array
import math
import re

import numpy as np
import pytest

import fastkaiming as fk

SENTINEL = 7.0


def target(shape=(4, 6), dtype=np.float32):
    return np.full(shape, SENTINEL, dtype)


def check(exc, message, fn, tensor, *args, **kwargs):
    before = tensor.tobytes() if isinstance(tensor, np.ndarray) else None
    with pytest.raises(exc, match=message):
        fn(tensor, *args, **kwargs)
    if before is not None:
        assert tensor.tobytes() == before, "buffer was written"


ALL = [fk.normal_, fk.uniform_, fk.kaiming_normal_, fk.kaiming_uniform_]


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize(
    "kwargs,exc,message",
    [
        ({"seed": -1}, ValueError, r"^seed must be an int in \[0, 2\*\*64\), got -1$"),
        ({"seed": 2**64}, ValueError, r"seed must be an int in \[0, 2\*\*64\), got 18446744073709551616"),
        ({"seed": 1.0}, TypeError, "^seed must be an int, got float 1.0$"),
        ({"seed": "1"}, TypeError, "^seed must be an int, got str '1'$"),
        ({"seed": True}, TypeError, "^seed must be an int, got bool True$"),
        ({"seed": 0, "stream": -1}, ValueError, r"^stream must be an int in \[0, 2\*\*64\), got -1$"),
        ({"seed": 0, "stream": 2**64}, ValueError, r"^stream must be an int in \[0, 2\*\*64\)"),
        ({"seed": 0, "offset": -3}, ValueError, "^offset must be >= 0, got -3$"),
        ({"seed": 0, "offset": 0.5}, TypeError, "^offset must be an int, got float 0.5$"),
        (
            {"seed": 0, "offset": 4 * 2**64 - 10},
            ValueError,
            r"^offset range \[73786976294838206454, 73786976294838206478\) runs past the end of "
            r"the stream \(4 \* 2\*\*64 samples for float32\)$",
        ),
        ({"seed": 0, "threads": 0}, ValueError, r"^threads must be a nonzero int \(None for all usable cores\), got 0$"),
        ({"seed": 0, "threads": 1.5}, TypeError, "^threads must be an int, got float 1.5$"),
        ({"seed": 0, "dtype": "float64"}, TypeError, "^dtype=float64 does not match the tensor's dtype float32$"),
        ({"seed": 0, "dtype": "int32"}, TypeError, r"^dtype must be one of float16, float32, float64, bfloat16, got '<i4' \(int32\)$"),
        ({"seed": 0, "dtype": "nonsense"}, TypeError, "^dtype must be one of float16, float32, float64, bfloat16, got 'nonsense'$"),
    ],
)
def test_common_argument_errors(fn, kwargs, exc, message):
    check(exc, message, fn, target(), **kwargs)


def test_offset_limit_is_per_dtype():
    # float64 takes 2 samples per block: its streams are half as long
    fk.normal_(np.empty(2), seed=0, offset=2 * 2**64 - 2)
    check(ValueError, r"\(2 \* 2\*\*64 samples for float64\)", fk.normal_, target(dtype=np.float64), seed=0, offset=2 * 2**64 - 1)
    fk.normal_(np.empty(4, np.float32), seed=0, offset=4 * 2**64 - 4)


@pytest.mark.parametrize(
    "fn,args,exc,message",
    [
        (fk.normal_, (0.0, -1.0), ValueError, "^std must be >= 0, got -1.0$"),
        (fk.normal_, (0.0, math.nan), ValueError, "^std must be finite, got nan$"),
        (fk.normal_, (math.inf, 1.0), ValueError, "^mean must be finite, got inf$"),
        (fk.normal_, ("0", 1.0), TypeError, "^mean must be a real number, got str '0'$"),
        (fk.normal_, (0.0, 1e39), ValueError, "^std=1e[+]39 is out of range for float32$"),
        (fk.uniform_, (1.0, 0.0), ValueError, r"^uniform_ expects a <= b, got a=1.0, b=0.0$"),
        (fk.uniform_, (-math.inf, 0.0), ValueError, "^a must be finite, got -inf$"),
        (fk.uniform_, (0.0, math.nan), ValueError, "^b must be finite, got nan$"),
        (fk.uniform_, (0.0, 1e300), ValueError, r"^b=1e\+300 is out of range for float32$"),
        (fk.kaiming_normal_, (-0.1,), ValueError, "^a must be >= 0, got -0.1$"),
        (fk.kaiming_uniform_, (math.nan,), ValueError, "^a must be finite, got nan$"),
        (fk.kaiming_normal_, (0.0, "fan_mid"), ValueError, "^mode must be one of 'fan_in', 'fan_out', 'fan_avg', got 'fan_mid'$"),
        (fk.kaiming_uniform_, (0.0, "fan_in", "gelu"), ValueError, "^nonlinearity must be one of 'linear', .*'selu', got 'gelu'$"),
    ],
)
def test_distribution_parameter_errors(fn, args, exc, message):
    check(exc, message, fn, target(), *args, seed=0)


def test_float16_range():
    check(ValueError, "^b=70000.0 is out of range for float16$", fk.uniform_, target(dtype=np.float16), 0.0, 7e4, seed=0)


@pytest.mark.parametrize("fn", [fk.kaiming_normal_, fk.kaiming_uniform_])
def test_fan_errors(fn):
    check(ValueError, "^fan_in must be a positive int, got 0$", fn, target(), seed=0, fan_in=0)
    check(ValueError, "^fan_out must be a positive int, got -2$", fn, target(), seed=0, fan_out=-2)
    check(TypeError, "^fan_in must be an int, got float 3.0$", fn, target(), seed=0, fan_in=3.0)
    check(ValueError, "^Fan in and fan out can not be computed for tensor with fewer than 2 dimensions$",
          fn, target((12,)), seed=0)  # fmt: skip
    check(ValueError, "^Fan in and fan out can not be computed", fn, target((12,)), seed=0, mode="fan_out", fan_in=3)
    check(ValueError, "^in_axis=5 is out of range for a tensor with 2 dimensions$", fn, target(), seed=0, in_axis=5)
    check(ValueError, "^in_axis and out_axis must be different axes, both are axis 1$", fn, target(),
          seed=0, in_axis=1, out_axis=-1)  # fmt: skip


@pytest.mark.parametrize("fn", ALL)
def test_not_a_buffer(fn):
    for obj in ([1.0, 2.0], None, 3.0, "abc"):
        with pytest.raises(TypeError, match=r"^tensor must support the buffer protocol \(a NumPy array, "
                           rf"memoryview, array.array, mmap, bytearray, ...\), got {type(obj).__name__}$"):  # fmt: skip
            fn(obj, seed=0)


@pytest.mark.parametrize("fn", ALL)
def test_read_only(fn):
    w = target()
    w.flags.writeable = False
    check(ValueError, r"^tensor is read-only \(ndarray\); pass a writable buffer$", fn, w, seed=0)
    with pytest.raises(ValueError, match=r"^tensor is read-only \(bytes\)"):
        fn(bytes(64), seed=0, dtype="float32")
    with pytest.raises(ValueError, match="read-only"):
        fn(np.broadcast_to(np.zeros(3, np.float32), (4, 3)), seed=0)


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize(
    "dtype,name",
    [(np.int32, "int32"), (np.complex64, "complex64"), (np.uint32, "uint32"),
     (np.dtype(">f4"), "'>f4' (float32, non-native byte order)"), ("datetime64[s]", "datetime64[s]"),
     ("timedelta64[ns]", "timedelta64[ns]"), (object, "object"), ("V8", "|V8"),
     ([("a", "<f4"), ("b", "<f4")], "[('a', '<f4'), ('b', '<f4')] (structured)"), ("S4", "|S4"), (bool, "bool"),
     (np.float128 if hasattr(np, "float128") else np.int64, None)],
)  # fmt: skip
def test_unsupported_dtype(fn, dtype, name):
    w = np.zeros((4, 4), dtype)
    message = "unsupported"
    if name:
        message = "^" + re.escape(f"tensor has unsupported dtype {name}; supported dtypes: float16, float32, float64, bfloat16") + "$"
    check(TypeError, message, fn, w, seed=0)


def test_object_array_is_unsupported():
    w = np.empty((2, 2), object)
    with pytest.raises(TypeError, match="^tensor has unsupported dtype object; supported dtypes"):
        fk.normal_(w, seed=0)


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "int4", "uint4", "float4_e2m1fn"])
def test_ml_dtypes_arrays_are_named(name):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    if not hasattr(ml_dtypes, name):
        pytest.skip(f"this ml_dtypes has no {name}")
    w = np.zeros(8, getattr(ml_dtypes, name))
    check(TypeError, rf"^tensor has unsupported dtype {name}; supported dtypes: float16, float32, float64, bfloat16$",
          fk.normal_, w, seed=0)  # fmt: skip


def test_ml_dtypes_bfloat16_array_is_filled():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    w = np.zeros(8, ml_dtypes.bfloat16)
    fk.normal_(w, seed=0)
    raw = bytearray(16)
    fk.normal_(raw, seed=0, dtype="bfloat16")
    assert w.tobytes() == bytes(raw)
    with pytest.raises(TypeError, match="^tensor has unsupported dtype bfloat16; supported dtypes: uint32$"):
        fk.random_raw(np.zeros(4, ml_dtypes.bfloat16), seed=0)


class RefusingBuffer:
    """Exports its memory with an error that is not TypeError (as some producers do)."""

    def __init__(self, exc):
        self.exc = exc

    def __buffer__(self, flags):
        raise self.exc


class RefusingDLPack:
    def __init__(self, exc):
        self.exc = exc

    def __dlpack_device__(self):
        return (1, 0)

    def __dlpack__(self, **kwargs):
        raise self.exc


@pytest.mark.parametrize("exc", [BufferError("busy"), RuntimeError("boom"), NotImplementedError("later"),
                                 OverflowError("big"), ValueError("bad")])  # fmt: skip
def test_producer_errors_become_type_errors(exc):
    import sys

    if sys.version_info >= (3, 12):
        with pytest.raises(TypeError, match=rf"^tensor \(RefusingBuffer\) could not export its memory through the "
                           rf"buffer protocol: {type(exc).__name__}: {exc}$"):  # fmt: skip
            fk.normal_(RefusingBuffer(exc), seed=0)
    with pytest.raises(TypeError, match=rf"^tensor \(RefusingDLPack\) could not export its memory through DLPack: "
                       rf"{type(exc).__name__}: {exc}$"):  # fmt: skip
        fk.normal_(RefusingDLPack(exc), seed=0)


class DLPackOnly:
    """A DLPack-only producer (not torch) over a NumPy array: the buffer protocol cannot see it."""

    def __init__(self, array):
        self.array = array

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)


class OnAnotherDevice(DLPackOnly):
    def __dlpack_device__(self):
        return (2, 1)

    def __dlpack__(self, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("exported a non-CPU tensor")


def test_dlpack_dtypes_are_named():
    for dtype, name in [(np.int32, "int32"), (np.complex64, "complex64"), (np.uint8, "uint8"), (bool, "bool")]:
        with pytest.raises(TypeError, match=rf"^tensor has unsupported dtype {name}; supported dtypes: float16"):
            fk.normal_(DLPackOnly(np.zeros(4, dtype)), seed=0)
    w = np.zeros(6, np.float32)
    fk.normal_(DLPackOnly(w), seed=0)
    assert (w == fk.normal_(np.zeros(6, np.float32), seed=0)).all()


def test_dlpack_tensor_on_another_device():
    with pytest.raises(ValueError, match=r"^tensor is on cuda:1; fastkaiming fills host \(CPU\) memory"):
        fk.kaiming_normal_(OnAnotherDevice(None), seed=0)


def test_read_only_dlpack_tensor():
    a = np.zeros(8, np.float32)
    a.flags.writeable = False
    try:
        a.__dlpack__(max_version=(1, 0))
    except (TypeError, BufferError):
        pytest.skip("this NumPy cannot export read-only arrays with DLPack 1.0 flags")
    with pytest.raises(ValueError, match=r"read-only \(DLPackOnly\); immutable arrays .*fastkaiming.kaiming_normal\(shape"):
        fk.normal_(DLPackOnly(a), seed=0)
    assert not a.any()


def test_raw_bytes_need_dtype_and_whole_items():
    raw = bytearray(b"\x07" * 10)
    with pytest.raises(TypeError, match=r"^tensor is a raw byte buffer \(format 'B'\); pass dtype= "
                       r"\(float16, float32, float64, bfloat16\) to say how to read it$"):  # fmt: skip
        fk.normal_(raw, seed=0)
    with pytest.raises(ValueError, match="^tensor has 10 bytes, not a multiple of the 4-byte item size of float32$"):
        fk.normal_(raw, seed=0, dtype="float32")
    assert raw == bytearray(b"\x07" * 10)
    with pytest.raises(ValueError, match="must be contiguous"):
        fk.normal_(np.zeros(16, np.uint8)[::2], seed=0, dtype="float16")


def test_overlapping_view():
    base = np.zeros(4, np.float32)
    w = np.lib.stride_tricks.as_strided(base, shape=(3, 4), strides=(0, 4))
    check(ValueError, r"^tensor has overlapping memory \(a zero stride", fk.normal_, w, seed=0)


def test_self_overlapping_views():
    base = np.zeros(64, np.float32)
    view = np.lib.stride_tricks.as_strided
    check(ValueError, r"^tensor has overlapping memory \(shape \(10, 10\), strides \(4, 4\) in bytes, "
          r"4-byte elements: elements share bytes\); fill a buffer whose elements are distinct",
          fk.normal_, view(base, shape=(10, 10), strides=(4, 4)), seed=0)  # fmt: skip
    check(ValueError, r"^tensor has overlapping memory", fk.uniform_, view(base, shape=(5,), strides=(2,)), seed=0)
    big = np.zeros(1 << 20, np.float32)
    check(ValueError, r"^tensor may overlap itself \(shape \(300, 300\), strides \(8, 12\) in bytes, 4-byte "
          r"elements\): its strides interleave and its 90000 elements cannot be proved distinct",
          fk.normal_, view(big, shape=(300, 300), strides=(8, 12)), seed=0)  # fmt: skip
    assert not base.any() and not big.any()
    # interleaved but distinct, few enough to check address by address: filled
    w = fk.normal_(view(base, shape=(2, 3), strides=(12, 8)), seed=0)
    np.testing.assert_array_equal(w, fk.normal_(np.empty((2, 3), np.float32), seed=0))


def test_random_raw_errors():
    out = np.full(8, 5, np.uint32)
    with pytest.raises(TypeError, match=r"random_raw needs an explicit seed"):
        fk.random_raw(out, seed=None)
    with pytest.raises(TypeError, match=r"supported dtypes: uint32$"):
        fk.random_raw(np.zeros(8, np.float32), seed=0)
    with pytest.raises(ValueError, match=r"\(4 \* 2\*\*64 samples for uint32\)"):
        fk.random_raw(out, seed=0, offset=4 * 2**64 - 7)
    assert (out == 5).all()
    fk.random_raw(array.array("I", [0] * 4), seed=0)
