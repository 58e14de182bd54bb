"""Every public fill, fed arbitrary arguments, succeeds or raises TypeError/ValueError with a
message: never a crash, a hang, or another exception type. The tensors include NumPy arrays of
every kind (datetime64, object, void, structured, ...), ml_dtypes and torch tensor kinds when
installed; each torch kind is filled exactly as a NumPy array of its shape, or refused untouched."""
import array
import importlib.util
import inspect
import math
import re
import warnings
from fractions import Fraction

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
    lambda: np.zeros(4, "datetime64[s]"), lambda: np.zeros(4, "timedelta64[ns]"), lambda: np.zeros(4, "V8"),
    lambda: np.zeros(4, [("a", "<f4"), ("b", "<i2")]), lambda: np.zeros(4, ">f8"), lambda: np.zeros(4, "U3"),
    lambda: np.zeros(4, bool), lambda: np.zeros((2, 2), (np.float32, (3,))),
]  # fmt: skip
try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None
if ml_dtypes is not None:
    MAKERS += [lambda name=name: np.zeros(6, getattr(ml_dtypes, name))
               for name in ("float8_e4m3fn", "float8_e5m2", "int4", "uint4", "bfloat16") if hasattr(ml_dtypes, name)]  # fmt: skip


torch = None
if importlib.util.find_spec("torch") is not None:
    import torch


def _storage(n=60, dtype=None):
    t = torch.arange(n, dtype=torch.float64) + 0.5  # distinct values: any write shows
    return t.to(dtype or torch.float32) * (1 + 1j if dtype == torch.complex64 else 1)


def _resized(nbytes):
    t = _storage(20)
    t.untyped_storage().resize_(nbytes)
    return t


def _quantized():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.quantize_per_tensor(_storage(12), 0.5, 0, torch.qint8)


def _nested(layout):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.nested.nested_tensor([torch.ones(2, 3), torch.ones(4, 3)], layout=layout)


class Tagged:  # replaced by a torch.Tensor subclass when torch is installed
    pass


if torch is not None:

    class Tagged(torch.Tensor):  # type: ignore[no-redef]
        pass


# Torch tensor kinds: name -> (make the owner of the memory, the view of it that is filled, filled?).
# A kind that is filled must get exactly the values a NumPy fill of its shape gets; one that is not
# must raise a TypeError/ValueError naming the tensor, with its memory untouched.
TORCH_KINDS = {} if torch is None else {
    "contiguous": (lambda: _storage().view(6, 10), lambda b: b, True),
    "float64": (lambda: _storage(dtype=torch.float64).view(6, 10), lambda b: b, True),
    "float16": (lambda: _storage(dtype=torch.float16).view(6, 10), lambda b: b, True),
    "bfloat16": (lambda: _storage(dtype=torch.bfloat16).view(6, 10), lambda b: b, ml_dtypes is not None),
    "parameter": (lambda: torch.nn.Parameter(_storage().view(6, 10)), lambda b: b, True),
    "sliced": (lambda: _storage().view(6, 10), lambda b: b[1:6:2, ::3], True),
    "transposed": (lambda: _storage().view(6, 10), lambda b: b.t(), True),
    "offset_view": (lambda: _storage(), lambda b: b[13:49].view(4, 9), True),
    "channels_last": (lambda: _storage(48).view(2, 3, 2, 4), lambda b: b.permute(0, 2, 3, 1), True),
    "conv_weight": (lambda: _storage(54).view(2, 3, 3, 3), lambda b: b, True),
    "complex_real": (lambda: _storage(dtype=torch.complex64).view(6, 10), lambda b: b.real, True),
    "complex_imag": (lambda: _storage(dtype=torch.complex64).view(6, 10), lambda b: b.imag, True),
    "scalar": (lambda: _storage(1).view(()), lambda b: b, True),
    "empty": (lambda: _storage(0).view(0, 4), lambda b: b, True),
    "inference": (lambda: torch.inference_mode()(_storage)().view(6, 10), lambda b: b, True),
    "expanded": (lambda: _storage(10), lambda b: b.expand(6, 10), False),
    "conj_imag": (lambda: _storage(dtype=torch.complex64).view(6, 10), lambda b: b.conj().imag, False),
    "neg_view": (lambda: _storage().view(6, 10), lambda b: torch._neg_view(b), False),
    "conj_complex": (lambda: _storage(dtype=torch.complex64), lambda b: b.conj(), False),
    "int32": (lambda: _storage(dtype=torch.int32), lambda b: b, False),
    "sparse_coo": (lambda: torch.eye(6), lambda b: b.to_sparse(), False),
    "sparse_csr": (lambda: torch.eye(6), lambda b: b.to_sparse_csr(), False),
    "sparse_bsc": (lambda: torch.eye(6), lambda b: b.to_sparse_bsc((2, 2)), False),
    "quantized": (_quantized, lambda b: b, False),
    "nested": (lambda: _nested(torch.strided), lambda b: b, False),
    "jagged": (lambda: _nested(torch.jagged), lambda b: b, False),
    "meta": (lambda: torch.empty(6, 10, device="meta"), lambda b: b, False),
    "freed_storage": (lambda: _resized(0), lambda b: b, False),
    "short_storage": (lambda: _resized(40), lambda b: b, False),
    "zero_tensor": (lambda: torch._efficientzerotensor(6, 10), lambda b: b, False),
    "subclass": (lambda: _storage().view(6, 10), lambda b: b.as_subclass(Tagged), False),
    "uninitialized": (lambda: torch.nn.parameter.UninitializedParameter(), lambda b: b, False),
}  # fmt: skip
if torch is not None and torch.backends.mkldnn.is_available():
    TORCH_KINDS["mkldnn"] = (lambda: torch.ones(6, 10), lambda b: b.to_mkldnn(), False)
def _made(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's beta/prototype notices
        return kind[1](kind[0]())


MAKERS += [lambda kind=kind: _made(kind) for kind in TORCH_KINDS.values()]


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


def _contents(t):
    """What the memory behind t holds, comparable before and after; None where it cannot be read."""
    if isinstance(t, torch.nn.parameter.UninitializedTensorMixin) or t.is_meta or t._is_zerotensor():
        return None
    if t.is_nested:
        return torch.cat([c.flatten() for c in t.unbind()]).clone()
    if t.layout != torch.strided:
        return t.to_dense().clone()
    if t.is_quantized:
        return t.int_repr().clone()
    if t.untyped_storage().nbytes() < t.numel() * t.element_size():
        return None
    return t.detach().clone()


def _reference(fill, shape, dtype, kwargs):
    """The same fill of a fresh C-ordered NumPy array: what the tensor must hold."""
    np_dtype = ml_dtypes.bfloat16 if dtype == torch.bfloat16 else torch.empty(0, dtype=dtype).numpy().dtype
    out = fill(np.empty(shape, np_dtype), **kwargs)
    if dtype == torch.bfloat16:
        return torch.from_numpy(out.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(out)


TORCH_FILLS = [fk.kaiming_normal_, fk.kaiming_uniform_, fk.normal_, fk.uniform_, fk.trunc_normal_, fk.xavier_uniform_,
               fk.he_normal_, fk.lecun_uniform_]  # fmt: skip


@pytest.mark.skipif(torch is None, reason="needs torch")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(sorted(TORCH_KINDS)),
    fill=st.sampled_from(TORCH_FILLS),
    seed=st.integers(0, 2**64 - 1),
    stream=st.integers(0, 3),
    offset=st.integers(0, 9),
)
def test_torch_tensor_kinds(kind, fill, seed, stream, offset):
    make, view_of, filled = TORCH_KINDS[kind]
    kwargs = {"seed": seed, "stream": stream, "offset": offset}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zero-element fills warn, as torch
        base = make()
        t = view_of(base)
        before = _contents(base)
        plain = type(base) in (torch.Tensor, torch.nn.Parameter) and base.layout == torch.strided
        version = base._version if plain and not base.is_inference() else None
        if not filled:
            with pytest.raises((TypeError, ValueError), match=r"^tensor"):
                fill(t, **kwargs)
            after = _contents(base)
            assert (before is None) == (after is None) and (before is None or torch.equal(before, after)), "written"
            assert version is None or base._version == version
            return
        try:
            expected = _reference(fill, tuple(t.shape), t.dtype, kwargs)
        except (TypeError, ValueError) as exc:  # e.g. no fans for a 0-d or 1-d tensor: the same error
            with pytest.raises(type(exc), match=re.escape(str(exc))):
                fill(t, **kwargs)
            assert torch.equal(_contents(base), before)
            return
        assert fill(t, **kwargs) is t
    want = before.clone()
    view_of(want).copy_(expected)  # the fill's values at the view's places, the rest untouched
    assert torch.equal(_contents(base), want)
    assert torch.equal(t.detach(), expected)
    if version is not None and t.numel():
        assert base._version > version


# Numbers at and past every limit: ints past 2**31, 2**63, 2**64 and float64's range (and past
# the 4300 digits that str() converts), fractions, NumPy scalars at their extremes, subnormals.
EXTREME = [
    2**31, 2**63, 2**64, -(2**63) - 1, 2**1024, 2**2000, -(2**2000), 10**400, 2**20000, -(2**20000),
    Fraction(10**400, 3), Fraction(1, 10**400), 5e-324, -5e-324, 1.7976931348623157e308,
    np.int64(np.iinfo(np.int64).min), np.uint64(2**64 - 1), np.int8(-128), np.float16(65504),
    np.float32(np.finfo(np.float32).max), np.float64(np.finfo(np.float64).max), np.longdouble(np.finfo(np.longdouble).max),
]  # fmt: skip
IN_PLACE = [getattr(fk, n) for n in fk.__all__ if n.endswith("_") and not n.startswith("__")] + [fk.random_raw]
# Where the message names the argument in other words
SAID = {"block_start": ("block_start", "the block covers"), "mean": ("mean", "[a, b] = "), "std": ("std", "[a, b] = ")}


def _with(name, value):
    if name == "global_shape":
        return {"global_shape": (value, 4)}
    if name == "block_start":
        return {"global_shape": (8, 4), "block_start": (value, 0)}
    return {name: value}


@pytest.mark.parametrize("fill", IN_PLACE, ids=lambda f: f.__name__)
def test_extreme_numbers_in_each_argument(fill, isa):
    """One argument at a time: the fill succeeds or raises TypeError/ValueError naming it."""
    if isa != max(fk._core.isa_names().values()):
        pytest.skip("policy checks: the kernel does not matter")
    names = [p for p in inspect.signature(fill).parameters if p not in ("tensor", "out", "dtype")]
    for name in names:
        for value in EXTREME:
            # threads= only matters where the fill is large enough to be split
            shape = (600, 600) if name == "threads" else (4, 4)
            tensor = np.zeros(shape, np.uint32 if fill is fk.random_raw else np.float32)
            kwargs = {"seed": 1, **_with(name, value)}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                try:
                    fill(tensor, **kwargs)
                except (TypeError, ValueError) as exc:
                    assert any(said in str(exc) for said in SAID.get(name, (name,))), (fill.__name__, name, str(exc))


def test_extreme_threads_give_the_same_values():
    big = np.empty((600, 600), np.float32)
    expected = fk.normal_(big.copy(), seed=3, threads=1)
    for threads in (2**31, 2**64, 10**400, -(2**2000), np.int64(np.iinfo(np.int64).max)):
        np.testing.assert_array_equal(fk.normal_(big, seed=3, threads=threads), expected)


@pytest.mark.parametrize("call,exc,message", [
    (lambda: fk.normal_(np.empty(4), std=10**400, seed=0), ValueError, r"^std must be finite, got an int of 1329 bits, beyond the float64 range$"),
    (lambda: fk.uniform_(np.empty(4), a=-Fraction(10**400), seed=0), ValueError, r"^a must be finite, got Fraction"),
    (lambda: fk.kaiming_normal_(np.empty(4), fan_in=2**2000, seed=0), ValueError, r"^fan_in must be an int below 2\*\*64, got an int of 2001 bits$"),
    (lambda: fk.xavier_uniform_(np.empty(4), fan_out=2**64, fan_in=1, seed=0), ValueError, r"^fan_out must be an int below 2\*\*64"),
    (lambda: fk.normal_(np.empty(4), seed=2**20000), ValueError, r"^seed must be an int in \[0, 2\*\*64\), got an int of 20001 bits$"),
    (lambda: fk.Generator(-(2**300)), ValueError, r"^seed must be an int in \[0, 2\*\*64\), got a negative int of 301 bits$"),
    (lambda: fk.normal_(np.empty(4), seed=0, offset=2**20000), ValueError, r"^offset range \[an int of 20001 bits, an int of 20001 bits\) runs past"),
    (lambda: fk.calculate_gain("leaky_relu", 10**400), ValueError, r"^negative_slope an int of 1329 bits not a valid number$"),
    (lambda: fk.variance_scaling_(np.empty((4, 4)), 5e-324, seed=0), ValueError, r"^scale=5e-324 over a fan of 4 gives a variance that underflows to 0$"),
    (lambda: fk.variance_scaling_(np.empty((1, 1)), 1.7e308, distribution="uniform", seed=0), ValueError,
     r"^scale=1.7e\+308 gives the uniform limit inf, beyond the range of float64 \(max 1.79769e\+308\)$"),
    (lambda: fk.variance_scaling_(np.empty((1, 1), np.float16), 1e10, seed=0), ValueError,
     r"^scale=10000000000.0 gives the truncation bound [0-9.e+]+, beyond the range of float16 \(max 65504\)$"),
    (lambda: fk.xavier_uniform_(np.empty((1, 1)), 1.7e308, seed=0), ValueError, r"^gain=1.7e\+308 gives the bound inf, beyond the range of float64"),
    (lambda: fk.xavier_normal_(np.empty((1, 1), np.float32), 1e39, seed=0), ValueError, r"^gain=1e\+39 gives std 1e\+39, beyond the range of float32"),
    (lambda: fk.normal_(np.empty(4), seed=0, global_shape=(2**20000,), block_start=(0,)), ValueError, r"^global_shape \(an int of 20001 bits,\) has more than 2\*\*62 elements$"),
])  # fmt: skip
def test_extreme_number_messages(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


NUMERIC = ["seed", "stream", "offset", "threads", "fan_in", "fan_out", "in_axis", "out_axis", "mean", "std", "a", "b",
           "gain", "scale"]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fill=st.sampled_from(IN_PLACE),
    keywords=st.dictionaries(st.sampled_from(NUMERIC), st.sampled_from(EXTREME) | WEIRD, min_size=1, max_size=4),
)
def test_extreme_numbers_together(fill, keywords):
    """Several extreme arguments at once: TypeError/ValueError with a message, nothing else."""
    accepted = inspect.signature(fill).parameters
    keywords = {k: v for k, v in keywords.items() if k in accepted}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fill(np.zeros((3, 5), np.uint32 if fill is fk.random_raw else np.float32), **{"seed": 1, **keywords})
        except (TypeError, ValueError) as exc:
            assert str(exc) and "Exceeds the limit" not in str(exc)
