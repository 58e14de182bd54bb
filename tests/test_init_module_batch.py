"""init_module_ fills the random parameters of plain CPU tensors in one batch (one binding call):
the values are those of the public per-tensor fills, in every dtype, for non-contiguous and tied
parameters too; every tensor is still checked before the first write.
"""
import hashlib
import math
import warnings

import pytest

import fastkaiming as fk

torch = pytest.importorskip("torch")
fki = pytest.importorskip("fastkaiming.torch")
nn = torch.nn

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
SEED = 21


def _mixed(dtype):
    """One layer of each kind of fill, a tied weight, two non-contiguous weights, an empty one."""
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own init of empty.weight: a no-op
        torch.manual_seed(0)
        model = nn.ModuleDict({
            "lin": nn.Linear(5, 7),
            "conv": nn.Conv2d(2, 3, 3),
            "emb": nn.Embedding(6, 4, padding_idx=1),
            "ln": nn.LayerNorm(4),
            "bn": nn.BatchNorm1d(3),
            "gru": nn.GRU(3, 4),
            "attn": nn.MultiheadAttention(8, 2, add_bias_kv=True),
            "bil": nn.Bilinear(2, 3, 4),
            "head": nn.Linear(4, 6, bias=False),
            "strided": nn.Linear(3, 5),
            "empty": nn.Linear(0, 3),
        }).to(dtype)  # fmt: skip
    model["head"].weight = model["emb"].weight  # tied: filled once, as emb.weight
    model["strided"].weight = nn.Parameter(torch.zeros(3, 5, dtype=dtype).t())  # strides (1, 5)
    model["conv"].to(memory_format=torch.channels_last)
    assert not model["strided"].weight.is_contiguous() and not model["conv"].weight.is_contiguous()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    return model


def _expected(dtype):
    """Each parameter of _mixed(dtype) from the public per-tensor fills on fresh tensors."""
    kw = dict(dtype=dtype)

    def s(name):
        return dict(seed=SEED, stream=fki.stream_for(name))

    def u(shape, bound, name):
        return fk.uniform_(torch.empty(shape, **kw), -bound, bound, **s(name))

    def kaiming(shape, name):  # Linear's and _ConvNd's weight: kaiming_uniform_(a=sqrt(5))
        return fk.kaiming_uniform_(torch.empty(shape, **kw), math.sqrt(5), **s(name))

    emb = fk.normal_(torch.empty(6, 4, **kw), **s("emb.weight"))
    emb[1] = 0
    out = {
        "lin.weight": kaiming((7, 5), "lin.weight"), "lin.bias": u(7, 1 / math.sqrt(5), "lin.bias"),
        "conv.weight": kaiming((3, 2, 3, 3), "conv.weight"), "conv.bias": u(3, 1 / math.sqrt(18), "conv.bias"),
        "emb.weight": emb,
        "ln.weight": torch.ones(4, **kw), "ln.bias": torch.zeros(4, **kw),
        "bn.weight": torch.ones(3, **kw), "bn.bias": torch.zeros(3, **kw),
        "attn.in_proj_weight": fk.xavier_uniform_(torch.empty(24, 8, **kw), **s("attn.in_proj_weight")),
        "attn.in_proj_bias": torch.zeros(24, **kw),
        "attn.bias_k": fk.xavier_normal_(torch.empty(1, 1, 8, **kw), **s("attn.bias_k")),
        "attn.bias_v": fk.xavier_normal_(torch.empty(1, 1, 8, **kw), **s("attn.bias_v")),
        "attn.out_proj.weight": kaiming((8, 8), "attn.out_proj.weight"),
        "attn.out_proj.bias": torch.zeros(8, **kw),
        "bil.weight": u((4, 2, 3), 1 / math.sqrt(2), "bil.weight"), "bil.bias": u(4, 1 / math.sqrt(2), "bil.bias"),
        "strided.weight": kaiming((5, 3), "strided.weight"), "strided.bias": u(5, 1 / math.sqrt(3), "strided.bias"),
        "empty.bias": u(3, 0.0, "empty.bias"),
    }  # fmt: skip
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        shape = (12, 3) if name == "weight_ih_l0" else (12, 4) if name == "weight_hh_l0" else (12,)
        out[f"gru.{name}"] = u(shape, 1 / math.sqrt(4), f"gru.{name}")
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_the_batch_gives_the_public_fills_values(dtype):
    model = _mixed(dtype)
    with pytest.warns(UserWarning, match="zero-element"):  # empty.weight, as fastkaiming's fills say
        fki.init_module_(model, seed=SEED)
    expected = _expected(dtype)
    named = dict(model.named_parameters())
    assert set(named) == set(expected) | {"empty.weight"}
    for name, want in expected.items():
        got = named[name]
        assert got.dtype == dtype and torch.equal(got.detach(), want), name
    assert model["head"].weight is model["emb"].weight
    assert model["bn"].running_var.eq(1).all() and model["bn"].num_batches_tracked.item() == 0


def _digest(model):
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


# sha256 of _mixed(dtype)'s state after init_module_(seed=21), computed with the fill-by-fill
# init_module_ of 0.2.0 (before the batch): the same values as then
DIGESTS = {
    torch.float16: "2839fc7348a87c33",
    torch.bfloat16: "a30be56d02ca60fd",
    torch.float32: "044ad2342e52568f",
    torch.float64: "d820bd3e3e789dde",
}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_values_are_those_of_the_fill_by_fill_init_module(dtype):
    model = _mixed(dtype)
    with pytest.warns(UserWarning, match="zero-element"):
        fki.init_module_(model, seed=SEED)
    assert _digest(model) == DIGESTS[dtype]


def test_random_fills_bump_the_version_counter():
    model = nn.Sequential(nn.Linear(4, 4), nn.Embedding(5, 2, padding_idx=0))
    versions = [p._version for p in model.parameters()]
    fki.init_module_(model, seed=0)
    assert all(p._version > v for p, v in zip(model.parameters(), versions, strict=True))


def test_small_fills_run_on_one_thread_and_large_ones_on_the_pool(monkeypatch):
    """Each request of the batch carries its own thread count: 1 below MIN_PARALLEL elements."""
    from fastkaiming import _core

    seen = []
    real = _core.fill_batch

    def spy(requests, isa, main_thread):
        seen.extend((math.prod(r[1]), r[-1]) for r in requests)
        return real(requests, isa, main_thread)

    monkeypatch.setattr(_core, "fill_batch", spy)
    model = nn.Sequential(nn.Linear(512, 512), nn.Linear(8, 8))  # 262,144 = MIN_PARALLEL weights
    fki.init_module_(model, seed=0, threads=2)
    assert sorted(seen) == [(8, 1), (64, 1), (512, 1), (_core.MIN_PARALLEL, 2)]
    expected = fk.kaiming_uniform_(torch.empty(512, 512), math.sqrt(5), seed=0, stream=fki.stream_for("0.weight"),
                                   threads=1)  # fmt: skip
    assert torch.equal(model[0].weight.detach(), expected)


class _Swapper(nn.Module):
    """Its reset gives its child Linear's weight new memory (as a careless reset may)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)
        self.gate = nn.Parameter(torch.zeros(2))

    def reset_parameters(self):
        with torch.no_grad():
            self.gate.fill_(1.0)
        self.lin.weight.data = torch.full((4, 3), float("nan"))


def test_a_reset_that_replaces_memory_is_followed():
    model = _Swapper()
    old = model.lin.weight.data_ptr()
    fki.init_module_(model, seed=3, unknown="reset")
    assert model.lin.weight.data_ptr() != old
    expected = fk.kaiming_uniform_(torch.empty(4, 3), math.sqrt(5), seed=3, stream=fki.stream_for("lin.weight"))
    assert torch.equal(model.lin.weight.detach(), expected) and torch.equal(model.gate.detach(), torch.ones(2))


def test_an_unallocated_constant_stops_init_module_before_any_write():
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    model[1].weight.untyped_storage().resize_(0)
    before = model[0].weight.detach().clone()
    with pytest.raises(ValueError, match=r"^init_module_ cannot reset a tensor whose data is not allocated yet$"):
        fki.init_module_(model, seed=0)
    assert torch.equal(model[0].weight.detach(), before)


def test_a_bad_random_parameter_anywhere_stops_the_batch_before_any_write():
    """The second Linear's weight is a lazy negated view: nothing of the first is written."""
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(2, 2))
    z = torch.zeros(2, 2, dtype=torch.complex64)
    model[1].weight = nn.Parameter(z.conj().imag)
    assert model[1].weight.is_neg()
    before = model[0].weight.detach().clone()
    with pytest.raises(ValueError, match=r"^init_module_ cannot fill '1\.weight': tensor is a lazy negated view"):
        fki.init_module_(model, seed=0)
    assert torch.equal(model[0].weight.detach(), before)


def test_fill_batch_refuses_a_malformed_request():
    from fastkaiming import _core

    request = (0, (2, 2), (2,), 4, _core.DTYPE_FLOAT32, _core.DIST_NORMAL, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0,
               0, 0, 0, 0, None, 1)  # fmt: skip
    with pytest.raises(ValueError, match="shape and steps must have the same length"):
        _core.fill_batch([request], _core.ISA_AUTO, False)


def test_warnings_name_the_caller():
    with pytest.warns(UserWarning, match="skipped 1 parameters") as caught:
        fki.init_module_(_Swapper(), seed=0, unknown="skip")
    assert caught[0].filename == __file__


@pytest.mark.parametrize("name, stream", [
    ("0.weight", 0xC65551011EE078E6),
    ("encoder.layers.11.self_attn.in_proj_weight", 0x016837ADB3F3AC9C),
    ("\u00e9", 0x2F19F3EF8BBF1ACB),
])  # fmt: skip
def test_stream_for_is_the_blake2b_of_the_name(name, stream):
    """Known answers (0.2.0's stream_for), and hashlib's BLAKE2b-64 of the UTF-8 name."""
    assert fki.stream_for(name) == stream
    assert stream == int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


def test_module_classes_are_not_kept_alive():
    """Classes made at run time (2,000 of them, as a model factory may make) are freed with their
    modules: init_module_ keeps nothing per class once it returns."""
    import gc
    import weakref

    refs = []
    for i in range(2000):
        made = type(f"Block{i}", (nn.Sequential,), {})  # a container: no parameters of its own
        model = made(nn.Linear(2, 2))
        fki.init_module_(model, seed=i)
        refs.append(weakref.ref(made))
        del made, model
    gc.collect()
    assert sum(r() is not None for r in refs) == 0
