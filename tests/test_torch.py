"""PyTorch tensors: in place, every dtype, Parameters, views; every other kind a clear error."""
import re
import subprocess
import sys

import numpy as np
import pytest

import fastkaiming as fk
from fastkaiming import _buffers

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


def test_unsupported_torch_dtypes_are_named_as_torch_names_them():
    for dtype in (torch.int32, torch.complex64, torch.bool, torch.uint8, torch.float8_e4m3fn):
        t = torch.zeros(4, dtype=dtype)
        with pytest.raises(TypeError, match=rf"^tensor has unsupported dtype {re.escape(str(dtype))}; supported "
                           r"dtypes: torch.float16, torch.float32, torch.float64, torch.bfloat16$"):  # fmt: skip
            fk.normal_(t, seed=0)
        assert not t.any()
    with pytest.raises(TypeError, match=r"^tensor has unsupported dtype torch.float32; supported dtypes: torch.uint32$"):
        fk.random_raw(torch.zeros(4), seed=0)


def test_random_raw_on_a_uint32_tensor():
    t = torch.zeros(10, dtype=torch.uint32)
    fk.random_raw(t, seed=3, stream=1)
    ref = fk.random_raw(np.zeros(10, np.uint32), seed=3, stream=1)
    np.testing.assert_array_equal(t.view(torch.int32).numpy().view(np.uint32), ref)


def test_dtype_argument_must_match():
    with pytest.raises(TypeError, match="^dtype=float64 does not match the tensor's dtype torch.float32$"):
        fk.normal_(torch.zeros(4), seed=0, dtype="float64")
    fk.normal_(torch.zeros(4), seed=0, dtype="float32")


# ---- item 1 of issue 10: only memory that is provably the tensor's own ----------------------


def unchanged(t, fn, exc, message, **kw):
    """fn(t) raises exc(message) and leaves the memory behind t as it was."""
    base = t._base if t._base is not None else t
    before, version = base.clone(), t._version
    with pytest.raises(exc, match=message):
        fn(t, seed=0, **kw)
    assert torch.equal(base.resolve_conj().resolve_neg(), before.resolve_conj().resolve_neg()), "written"
    assert t._version == version, "version bumped without a write"


@pytest.mark.parametrize("fn", [fk.normal_, fk.uniform_, fk.kaiming_normal_, fk.trunc_normal_])
def test_lazy_negated_and_conjugate_views(fn):
    c = torch.zeros(4, 4, dtype=torch.complex64)
    neg = c.conj().imag
    assert neg.is_neg()
    unchanged(neg, fn, ValueError, r"^tensor is a lazy negated view \(t.is_neg\(\).*fill t.resolve_neg\(\) \(or t.clone\(\)\)")
    unchanged(torch._neg_view(torch.zeros(4, 4)), fn, ValueError, r"lazy negated view")
    with pytest.raises(TypeError, match=r"^tensor has unsupported dtype torch.complex64"):
        fn(c.conj(), seed=0)  # a conjugate view of a supported dtype does not exist: complex first
    real = c.conj().real  # no flag on .real: the memory reads as written
    assert not real.is_neg() and not real.is_conj()
    fk.uniform_(real, 0.0, 1.0, seed=0)
    assert (real >= 0).all() and torch.equal(c.real, real)


def test_conjugate_flag_is_refused(monkeypatch):
    t = torch.zeros(4)
    monkeypatch.setattr(torch.Tensor, "is_conj", lambda self: True)  # no real dtype carries the flag
    unchanged(t, fk.normal_, ValueError, r"^tensor is a lazy conjugate view \(t.is_conj\(\)\).*t.resolve_conj\(\)")


def test_negated_view_no_longer_negated_values():
    # the case: reading the view gave values outside [0, 1]
    v = torch.zeros(4, dtype=torch.complex64).conj().imag
    with pytest.raises(ValueError, match="resolve_neg"):
        fk.uniform_(v, 0.0, 1.0, seed=0)
    r = v.resolve_neg()
    fk.uniform_(r, 0.0, 1.0, seed=0)
    assert ((r >= 0) & (r <= 1)).all()


def test_storage_freed_as_fsdp_does():
    t = torch.empty(1000)
    t.untyped_storage().resize_(0)
    with pytest.raises(ValueError, match=r"^tensor's data is not allocated yet \(its storage has 0 bytes, as after "
                       r"untyped_storage\(\).resize_\(0\)\): there is no memory to fill; allocate it first"):  # fmt: skip
        fk.normal_(t, seed=0)
    assert t._version == 0
    t.untyped_storage().resize_(4000)  # FSDP's unshard: now it can be filled
    fk.normal_(t, seed=0)
    np.testing.assert_array_equal(t.numpy(), fk.normal_(np.empty(1000, np.float32), seed=0))


def test_zero_tensor_has_no_data():
    z = torch._efficientzerotensor(4)
    with pytest.raises(ValueError, match=r"^tensor's data is not allocated yet \(a ZeroTensor"):
        fk.normal_(z, seed=0)


def test_storage_smaller_than_the_view():
    t = torch.zeros(1000)
    t.untyped_storage().resize_(100)
    with pytest.raises(ValueError, match=r"^tensor's view ends at byte 4000 of its storage, which has only 100 bytes"):
        fk.normal_(t, seed=0)
    v = torch.zeros(100)[10:].view(10, 9)
    v.untyped_storage().resize_(396)  # one element short of the view's last
    with pytest.raises(ValueError, match=r"ends at byte 400 of its storage, which has only 396 bytes"):
        fk.kaiming_normal_(v, seed=0)


def test_meta_tensor():
    t = torch.empty(3, 4, device="meta")
    with pytest.raises(ValueError, match=r"^tensor is on the meta device \(it has no data\): materialize the model "
                       r"with module.to_empty\(device=...\) first"):  # fmt: skip
        fk.kaiming_normal_(t, seed=0)


@pytest.mark.parametrize("convert", ["to_sparse", "to_sparse_csr", "to_sparse_csc", "bsr", "bsc"])
def test_sparse_tensors(convert):
    dense = torch.eye(4)
    if convert in ("bsr", "bsc"):
        t = getattr(dense, f"to_sparse_{convert}")((2, 2))
    else:
        t = getattr(dense, convert)()
    with pytest.raises(TypeError, match=rf"^tensor is sparse \({re.escape(str(t.layout))}\); fastkaiming fills dense tensors"):
        fk.normal_(t, seed=0)
    assert torch.equal(t.to_dense(), dense)


def test_quantized_nested_and_mkldnn_tensors():
    q = torch.quantize_per_tensor(torch.zeros(4), 0.1, 0, torch.qint8)
    with pytest.raises(TypeError, match=r"^tensor is quantized \(torch.qint8\); fastkaiming fills float tensors"):
        fk.normal_(q, seed=0)
    n = torch.nested.nested_tensor([torch.zeros(2), torch.zeros(3)])
    with pytest.raises(TypeError, match=r"^tensor is a nested tensor; fastkaiming fills dense tensors"):
        fk.normal_(n, seed=0)
    assert not any(x.any() for x in n.unbind())
    jagged = torch.nested.nested_tensor([torch.zeros(2, 4), torch.zeros(3, 4)], layout=torch.jagged)
    with pytest.raises(TypeError, match=r"a subclass of torch.Tensor"):
        fk.normal_(jagged, seed=0)
    if torch.backends.mkldnn.is_available():
        m = torch.zeros(4, 4).to_mkldnn()
        with pytest.raises(TypeError, match=r"^tensor has layout torch._mkldnn, an opaque tensor"):
            fk.normal_(m, seed=0)


class Tagged(torch.Tensor):
    pass


def test_subclasses_are_refused():
    base = torch.zeros(4)
    t = base.as_subclass(Tagged)
    with pytest.raises(TypeError, match=r"^tensor is a test_torch.Tagged, a subclass of torch.Tensor; fastkaiming fills "
                       r"only plain torch.Tensor and torch.nn.Parameter objects"):  # fmt: skip
        fk.normal_(t, seed=0)
    assert not base.any()
    with pytest.raises(TypeError, match=r"^tensor is an uninitialized lazy parameter \(UninitializedParameter\)"):
        fk.normal_(torch.nn.parameter.UninitializedParameter(), seed=0)
    buffer = torch.nn.Buffer(torch.zeros(4))  # a plain tensor in torch 2.13: accepted
    fk.normal_(buffer, seed=0)
    assert buffer.any()


def test_fake_tensor_is_refused():
    fake_mode = pytest.importorskip("torch._subclasses.fake_tensor").FakeTensorMode
    with fake_mode():
        t = torch.empty(3)
    with pytest.raises(TypeError, match=r"FakeTensor, a subclass of torch.Tensor"):
        fk.normal_(t, seed=0)


def test_dtensor_is_refused_by_intake():
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    from torch.distributed.tensor import DTensor

    base = torch.zeros(4)
    d = torch.Tensor._make_subclass(DTensor, base)  # a DTensor shell, no process group needed
    with pytest.raises(TypeError, match=r"^tensor is a DTensor: a DTensor is filled shard by shard by fastkaiming's "
                       r"DTensor support"):  # fmt: skip
        _buffers.as_target(d, None, _buffers.FLOAT_DTYPES)  # intake itself: _fill may route DTensors first
    assert not base.any()


@pytest.mark.parametrize("transform", ["vmap", "grad", "functionalize"])
def test_wrapper_tensors_inside_torch_func(transform):
    seen = []

    def body(x):
        try:
            fk.normal_(x, seed=0)
        except TypeError as exc:
            seen.append(str(exc))
        return x.sum() if transform == "grad" else x

    getattr(torch.func, transform)(body)(torch.zeros(2, 3))
    assert seen and seen[0].startswith("tensor has no storage of its own (a torch.func vmap/grad/functionalize")


def test_torch_errors_while_inspecting_become_type_errors(monkeypatch):
    t = torch.zeros(4)
    monkeypatch.setattr(torch.Tensor, "stride", lambda self: (_ for _ in ()).throw(RuntimeError("no strides")))
    with pytest.raises(TypeError, match=r"^tensor \(Tensor\) could not be inspected: RuntimeError: no strides; "):
        fk.normal_(t, seed=0)


# ---- item 2 of issue 10: the autograd version counter ---------------------------------------


def test_fill_bumps_the_version_counter_so_backward_raises():
    w = torch.randn(3, requires_grad=True)
    y = (w * w).sum()
    fk.normal_(w, seed=0)
    assert w._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_every_writer_bumps_the_version():
    import fastkaiming.torch as fkt

    writers = [lambda t: fk.kaiming_uniform_(t, seed=0), lambda t: fk.trunc_normal_(t, seed=0),
               lambda t: fk.xavier_normal_(t, seed=0), lambda t: fk.he_normal_(t, seed=0),
               lambda t: fk.Generator(0).fill(fk.uniform_, t), lambda t: fkt.kaiming_normal_(t, seed=0),
               lambda t: fkt.xavier_uniform_(t, seed=0), lambda t: fkt.normal_(t, seed=0)]  # fmt: skip
    for write in writers:
        t = torch.zeros(4, 5)
        view = t[1:]
        write(view)
        assert t._version == view._version == 1  # views share the counter with their base
    empty = torch.zeros(0, 3)
    with pytest.warns(UserWarning, match="no-op"):
        fk.normal_(empty, seed=0)
    assert empty._version == 0  # nothing written, nothing bumped


def test_refused_fill_does_not_bump():
    t = torch.zeros(4, dtype=torch.int32)
    with pytest.raises(TypeError):
        fk.normal_(t, seed=0)
    assert t._version == 0


def test_inference_tensor_is_filled_without_a_version():
    with torch.inference_mode():
        t = torch.zeros(8)
    fk.normal_(t, seed=0)
    np.testing.assert_array_equal(t.numpy(), fk.normal_(np.empty(8, np.float32), seed=0))


def test_expanded_tensor_is_refused():
    t = torch.zeros(3).expand(4, 3)
    with pytest.raises(ValueError, match=r"overlapping memory"):
        fk.normal_(t, seed=0)
    assert not t.any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensor_is_refused_by_intake():
    t = torch.zeros(4, device="cuda")
    with pytest.raises(ValueError, match=r"^tensor is on cuda:0; fastkaiming fills host \(CPU\) memory"):
        _buffers.as_target(t, None, _buffers.FLOAT_DTYPES)  # intake itself: _fill may stage CUDA tensors first
    assert not t.any()


def test_import_and_numpy_fills_do_not_import_torch():
    code = ("import sys, numpy as np, fastkaiming as fk; fk.normal_(np.zeros(4, np.float32), seed=0); "
            "fk.normal_(bytearray(8), seed=0, dtype='float32'); "
            "assert 'torch' not in sys.modules and 'fastkaiming.torch' not in sys.modules")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_contiguous_fast_path_and_strided_path_agree():
    """A contiguous tensor skips the overlap check; a strided one takes it; both fill in C order."""
    for t in (torch.zeros(3, 1, 5), torch.zeros(5, 3).t(), torch.zeros(2, 3, 4).permute(2, 0, 1)[1:]):
        fk.uniform_(t, seed=4, offset=2)
        ref = fk.uniform_(np.empty(tuple(t.shape), np.float32), seed=4, offset=2)
        np.testing.assert_array_equal(t.numpy(), ref)
