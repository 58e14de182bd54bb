"""PyTorch tensors through DLPack: in place, every dtype, Parameters, views, clear errors."""
import numpy as np
import pytest

import fastkaiming as fk

torch = pytest.importorskip("torch")

DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16}


def numpy_fill(shape, dtype, **kw):
    if dtype == torch.bfloat16:
        raw = bytearray(2 * int(np.prod(shape)))
        fk.kaiming_normal_(raw, dtype="bfloat16", fan_in=shape[1], **kw)
        return np.frombuffer(raw, np.uint16).reshape(shape)
    return fk.kaiming_normal_(np.empty(shape, DTYPES[dtype]), **kw)


def as_numpy(t):
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.numpy()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_tensor_filled_in_place(dtype):
    t = torch.empty(48, 40, dtype=dtype)
    ptr = t.data_ptr()
    assert fk.kaiming_normal_(t, seed=7, stream=3, offset=5) is t
    assert t.data_ptr() == ptr
    np.testing.assert_array_equal(as_numpy(t), numpy_fill((48, 40), dtype, seed=7, stream=3, offset=5))


def test_parameter_with_requires_grad():
    p = torch.nn.Parameter(torch.empty(32, 16))
    ptr = p.data_ptr()
    assert fk.kaiming_uniform_(p, a=5**0.5, seed=1) is p
    assert p.requires_grad and p.data_ptr() == ptr and p.grad is None
    ref = fk.kaiming_uniform_(np.empty((32, 16), np.float32), a=5**0.5, seed=1)
    np.testing.assert_array_equal(p.detach().numpy(), ref)


def test_non_contiguous_views():
    base = torch.zeros(20, 30)
    view = base[2:18:2, ::3]
    fk.normal_(view, seed=2)
    ref = fk.normal_(np.empty(tuple(view.shape), np.float32), seed=2)
    np.testing.assert_array_equal(view.numpy(), ref)
    view.zero_()
    assert not base.any(), "wrote outside the view"
    t = torch.empty(10, 12).t()  # column-major
    fk.uniform_(t, seed=3)
    np.testing.assert_array_equal(t.numpy(), fk.uniform_(np.empty((12, 10), np.float32), seed=3))


def test_bfloat16_matches_torch_rounding_of_the_float32_fill():
    t = torch.empty(1000, dtype=torch.bfloat16)
    fk.normal_(t, seed=5)
    f32 = torch.from_numpy(fk.normal_(np.empty(1000, np.float32), seed=5))
    assert torch.equal(t, f32.to(torch.bfloat16))


def test_unsupported_torch_dtypes():
    for dtype in (torch.int32, torch.complex64, torch.bool, torch.uint8):
        with pytest.raises(TypeError, match=r"^tensor has unsupported dtype DLPack \(code \d+, bits \d+, lanes 1\); "
                           r"supported dtypes: float16, float32, float64, bfloat16$"):  # fmt: skip
            fk.normal_(torch.zeros(4, dtype=dtype), seed=0)


def test_dtype_argument_must_match():
    with pytest.raises(TypeError, match="^dtype=float64 does not match the tensor's dtype float32$"):
        fk.normal_(torch.zeros(4), seed=0, dtype="float64")


class FakeDevice:
    """A DLPack producer on another device (no GPU needed for the check)."""

    def __dlpack_device__(self):
        return (2, 1)

    def __dlpack__(self, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("exported a non-CPU tensor")


def test_non_cpu_tensor():
    with pytest.raises(ValueError, match=r"^tensor is on cuda:1; fastkaiming fills host \(CPU\) memory"):
        fk.kaiming_normal_(FakeDevice(), seed=0)


class ReadOnlyProducer:
    """A DLPack-only producer exporting read-only memory (as immutable arrays do)."""

    def __init__(self, array):
        self.array = array

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)


def test_read_only_dlpack_tensor():
    a = np.zeros(8, np.float32)
    a.flags.writeable = False
    try:
        a.__dlpack__(max_version=(1, 0))
    except (TypeError, BufferError):
        pytest.skip("this NumPy cannot export read-only arrays with DLPack 1.0 flags")
    with pytest.raises(ValueError, match=r"read-only \(ReadOnlyProducer\); immutable arrays .*fastkaiming.kaiming_normal\(shape"):
        fk.normal_(ReadOnlyProducer(a), seed=0)
    assert not a.any()
