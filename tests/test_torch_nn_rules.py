"""init_module_'s rule for every torch.nn layer that owns parameters, and the property that every
parameter of a model is either initialized by a rule or reported.

Each layer's expected law (distribution and bound) is written here from torch 2.13's
reset_parameters; the same check runs on torch's own freshly built layer (so the expectation is
torch's) and on init_module_'s result. Seeds are fixed: the moment checks cannot flake.
"""
import math
import re
import warnings

import numpy as np
import pytest

import fastkaiming as fk

torch = pytest.importorskip("torch")
fki = pytest.importorskip("fastkaiming.torch")
from fastkaiming.torch import _modules  # noqa: E402

nn = torch.nn


def _fans(shape):
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _linear(m, prefix):
    fan_in = _fans(m.weight.shape)[0]
    out = {"weight": ("uniform", 1 / math.sqrt(fan_in))}  # kaiming_uniform_(a=sqrt(5))
    if m.bias is not None:
        out["bias"] = ("uniform", 1 / math.sqrt(fan_in))
    return out


def _xavier_uniform(p):
    fan_in, fan_out = _fans(p.shape)
    return ("uniform", math.sqrt(6 / (fan_in + fan_out)))


def _expected_own(m):
    """name -> law of the parameters `m` owns, from torch 2.13's reset of type(m)."""
    kind = type(m)
    if kind in (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                nn.ConvTranspose3d):  # fmt: skip
        return _linear(m, "")
    if kind is nn.modules.linear.NonDynamicallyQuantizableLinear:  # MHA zeroes out_proj.bias
        return {"weight": _linear(m, "")["weight"], "bias": ("const", 0.0)}
    if kind is nn.Bilinear:
        b = 1 / math.sqrt(m.weight.size(1))
        return {"weight": ("uniform", b), "bias": ("uniform", b)}
    if kind in (nn.Embedding, nn.EmbeddingBag):
        return {"weight": ("embedding", m.padding_idx)}
    if kind in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.InstanceNorm1d,
                nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm):  # fmt: skip
        return {"weight": ("const", 1.0), "bias": ("const", 0.0)}
    if kind is nn.PReLU:
        return {"weight": ("const", m.init)}
    if kind in (nn.RNNBase, nn.RNN, nn.LSTM, nn.GRU, nn.RNNCellBase, nn.RNNCell, nn.LSTMCell, nn.GRUCell):
        return {n: ("uniform", 1 / math.sqrt(m.hidden_size)) for n, _ in m.named_parameters(recurse=False)}
    if kind is nn.MultiheadAttention:
        out = {n: _xavier_uniform(p) for n, p in m.named_parameters(recurse=False) if n.endswith("_weight")}
        out["in_proj_bias"] = ("const", 0.0)
        for n in ("bias_k", "bias_v"):  # xavier_normal_ of a (1, 1, E) tensor
            out[n] = ("normal", math.sqrt(2 / (2 * m.embed_dim)))
        return out
    return {}


def expected(model):
    """qualified name -> law, for every parameter of `model`."""
    laws = {}
    for mname, m in model.named_modules():
        for n, law in _expected_own(m).items():
            laws[f"{mname}.{n}" if mname else n] = law
    if type(model) is nn.Transformer:  # its _reset_parameters: xavier_uniform_ on p.dim() > 1
        for n, p in model.named_parameters():
            if p.dim() > 1:
                laws[n] = _xavier_uniform(p)
    return {n: laws[n] for n, _ in model.named_parameters()}


def check_law(name, p, law):
    x = p.detach().double().reshape(-1)
    kind, arg = law
    if kind == "const":
        assert torch.equal(x, torch.full_like(x, float(p.new_tensor(arg)))), name
        return
    if kind == "embedding":
        if arg is not None:
            assert torch.equal(p[arg], torch.zeros_like(p[arg])), name
            x = torch.cat([p[:arg], p[arg + 1:]]).detach().double().reshape(-1)
        kind, arg = "normal", 1.0
    n = x.numel()
    if kind == "uniform":
        bound = float(np.float32(arg))
        assert x.abs().max() <= bound, name  # exact
        if n >= 256:
            assert x.abs().max() > 0.95 * bound, name
        var, rel = arg * arg / 3, math.sqrt(0.8 / n)  # Var(x^2) / E(x^2)^2 = 4/5 for U(-b, b)
    else:
        var, rel = arg * arg, math.sqrt(2 / n)
    assert abs(x.mean()) < 6 * math.sqrt(var / n), name
    assert abs((x * x).mean() / var - 1) < 6 * rel, name


LAYERS = {
    "Linear": lambda: nn.Linear(64, 48),
    "Bilinear": lambda: nn.Bilinear(16, 8, 32),
    "Conv1d": lambda: nn.Conv1d(8, 16, 3),
    "Conv2d": lambda: nn.Conv2d(6, 12, 3, groups=3),
    "Conv3d": lambda: nn.Conv3d(4, 8, 2),
    "ConvTranspose1d": lambda: nn.ConvTranspose1d(8, 16, 3),
    "ConvTranspose2d": lambda: nn.ConvTranspose2d(6, 12, 3, groups=2),
    "ConvTranspose3d": lambda: nn.ConvTranspose3d(4, 6, 2),
    "Embedding": lambda: nn.Embedding(100, 16, padding_idx=3),
    "EmbeddingBag": lambda: nn.EmbeddingBag(100, 16, padding_idx=0),
    "BatchNorm1d": lambda: nn.BatchNorm1d(8),
    "BatchNorm2d": lambda: nn.BatchNorm2d(8),
    "BatchNorm3d": lambda: nn.BatchNorm3d(8),
    "SyncBatchNorm": lambda: nn.SyncBatchNorm(8),
    "InstanceNorm1d": lambda: nn.InstanceNorm1d(8, affine=True, track_running_stats=True),
    "InstanceNorm2d": lambda: nn.InstanceNorm2d(8, affine=True, track_running_stats=True),
    "InstanceNorm3d": lambda: nn.InstanceNorm3d(8, affine=True, track_running_stats=True),
    "LayerNorm": lambda: nn.LayerNorm((4, 16)),
    "GroupNorm": lambda: nn.GroupNorm(2, 8),
    "RMSNorm": lambda: nn.RMSNorm(16),
    "PReLU": lambda: nn.PReLU(8, init=0.1),
    "RNN": lambda: nn.RNN(16, 32, num_layers=2, bidirectional=True),
    "LSTM": lambda: nn.LSTM(16, 32, proj_size=8),
    "GRU": lambda: nn.GRU(16, 32),
    "RNNBase": lambda: nn.RNNBase("GRU", 8, 16),
    "RNNCell": lambda: nn.RNNCell(16, 32),
    "RNNCellBase": lambda: nn.RNNCellBase(8, 16, True, 2),
    "LSTMCell": lambda: nn.LSTMCell(16, 32),
    "GRUCell": lambda: nn.GRUCell(16, 32),
    "MultiheadAttention": lambda: nn.MultiheadAttention(32, 4),
    "MultiheadAttention-kv": lambda: nn.MultiheadAttention(32, 4, kdim=16, vdim=8, add_bias_kv=True),
    "MultiheadAttention-nobias": lambda: nn.MultiheadAttention(32, 4, bias=False),
    "TransformerEncoderLayer": lambda: nn.TransformerEncoderLayer(32, 4, 64),
    "TransformerDecoderLayer": lambda: nn.TransformerDecoderLayer(32, 4, 64),
    "Transformer": lambda: nn.Transformer(32, 4, 1, 1, 64),
    "AdaptiveLogSoftmaxWithLoss": lambda: nn.AdaptiveLogSoftmaxWithLoss(32, 100, [10, 50]),
}


def _build(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Transformer's nested-tensor note
        return LAYERS[name]()


@pytest.mark.parametrize("name", LAYERS)
def test_torch_reset_has_the_expected_law(name):
    torch.manual_seed(0)
    model = _build(name)
    for n, law in expected(model).items():
        check_law(n, model.get_parameter(n), law)


@pytest.mark.parametrize("name", LAYERS)
def test_init_module_follows_each_layer_s_reset(name):
    model = _build(name)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    fki.init_module_(model, seed=7)  # unknown="error": every layer here has a rule
    laws = expected(model)
    assert laws and set(laws) == {n for n, _ in model.named_parameters()}
    for n, law in laws.items():
        check_law(n, model.get_parameter(n), law)


def test_random_laws_are_fastkaiming_fills_on_the_parameter_s_stream():
    model = nn.ModuleDict({"lstm": nn.LSTM(4, 6), "attn": nn.MultiheadAttention(8, 2, add_bias_kv=True),
                           "bil": nn.Bilinear(3, 5, 2), "emb": nn.EmbeddingBag(10, 4, padding_idx=2)})  # fmt: skip
    fki.init_module_(model, seed=3)

    def s(name):
        return dict(seed=3, stream=fki.stream_for(name))

    b = 1 / math.sqrt(6)
    assert torch.equal(model["lstm"].weight_hh_l0, fk.uniform_(torch.empty(24, 6), -b, b, **s("lstm.weight_hh_l0")))
    assert torch.equal(model["attn"].in_proj_weight, fk.xavier_uniform_(torch.empty(24, 8), **s("attn.in_proj_weight")))
    assert torch.equal(model["attn"].bias_k, fk.xavier_normal_(torch.empty(1, 1, 8), **s("attn.bias_k")))
    assert torch.equal(model["attn"].out_proj.weight,
                       fk.kaiming_uniform_(torch.empty(8, 8), math.sqrt(5), **s("attn.out_proj.weight")))  # fmt: skip
    b = 1 / math.sqrt(3)
    assert torch.equal(model["bil"].weight, fk.uniform_(torch.empty(2, 3, 5), -b, b, **s("bil.weight")))
    emb = fk.normal_(torch.empty(10, 4), **s("emb.weight"))
    emb[2] = 0
    assert torch.equal(model["emb"].weight, emb)


def test_transformer_rule_is_its_own_reset_parameters():
    """nn.Transformer: every >1-D parameter xavier_uniform_ (as its _reset_parameters does after
    building the layers), 1-D ones by their layers' rules; an encoder layer alone keeps its
    layers' rules."""
    model = _build("Transformer")
    fki.init_module_(model, seed=5)
    lin = "encoder.layers.0.linear1"
    w = model.get_parameter(f"{lin}.weight")
    assert torch.equal(w, fk.xavier_uniform_(torch.empty(64, 32), seed=5, stream=fki.stream_for(f"{lin}.weight")))
    attn = "decoder.layers.0.multihead_attn.out_proj.weight"
    assert torch.equal(model.get_parameter(attn), fk.xavier_uniform_(torch.empty(32, 32), seed=5, stream=fki.stream_for(attn)))
    b = 1 / math.sqrt(32)
    assert torch.equal(model.get_parameter(f"{lin}.bias"),
                       fk.uniform_(torch.empty(64), -b, b, seed=5, stream=fki.stream_for(f"{lin}.bias")))  # fmt: skip
    layer = _build("TransformerEncoderLayer")
    fki.init_module_(layer, seed=5)
    assert torch.equal(layer.linear1.weight,
                       fk.kaiming_uniform_(torch.empty(64, 32), math.sqrt(5), seed=5, stream=fki.stream_for("linear1.weight")))  # fmt: skip


def test_running_statistics_are_reset():
    model = nn.Sequential(nn.BatchNorm2d(4), nn.InstanceNorm1d(4, track_running_stats=True),
                          nn.BatchNorm1d(4, affine=False))  # fmt: skip
    for m in model:
        m.running_mean.fill_(3.0)
        m.running_var.fill_(7.0)
        m.num_batches_tracked.fill_(12)
    versions = [m.running_var._version for m in model]
    fki.init_module_(model, seed=0)
    for m, v in zip(model, versions, strict=True):
        assert torch.equal(m.running_mean, torch.zeros(4)) and torch.equal(m.running_var, torch.ones(4))
        assert m.num_batches_tracked.item() == 0 and m.running_var._version > v


def test_every_torch_nn_layer_with_a_reset_has_a_rule():
    """Each class in torch.nn that defines a reset is covered: a rule, a container of layers
    that have rules, or a lazy module (uninitialized: an error)."""
    containers = {nn.Transformer, nn.AdaptiveLogSoftmaxWithLoss}
    missing = []
    for name in dir(nn):
        cls = getattr(nn, name)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            continue
        if not any(r in vars(k) for k in cls.__mro__ if k is not nn.Module
                   for r in ("reset_parameters", "_reset_parameters")):  # fmt: skip
            continue
        if cls in _modules._RULES or cls in containers or issubclass(cls, nn.modules.lazy.LazyModuleMixin):
            continue
        if cls.__module__.startswith("torch.nn.modules"):
            missing.append(name)
    assert not missing


# ---- every parameter is initialized or reported ------------------------------------------


class ExtraLinear(nn.Linear):
    """A Linear subclass with one more parameter and its own reset."""

    def __init__(self, *a):
        super().__init__(*a)
        self.scale = nn.Parameter(torch.empty(self.out_features))
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        if hasattr(self, "scale"):
            nn.init.constant_(self.scale, 7.0)


class OwnReset(nn.Linear):
    def reset_parameters(self):
        nn.init.constant_(self.weight, 2.0)
        if self.bias is not None:
            nn.init.constant_(self.bias, -2.0)


class NoReset(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(3, 3))
        self.inner = nn.Linear(3, 3)


class MyAttention(nn.MultiheadAttention):
    pass


def _tied():
    emb, head = nn.Embedding(20, 8), nn.Linear(8, 20, bias=False)
    head.weight = emb.weight
    return nn.Sequential(emb, nn.LayerNorm(8), head)


def _container_param():
    s = nn.Sequential(nn.Linear(3, 3))
    s.register_parameter("gate", nn.Parameter(torch.empty(3)))
    return s


def _patched_linear():
    lin = nn.Linear(4, 4)
    lin.register_parameter("extra", nn.Parameter(torch.empty(4)))
    return lin


ZOO = {
    **{n: (lambda n=n: _build(n)) for n in LAYERS},
    "nested": lambda: nn.Sequential(nn.Sequential(nn.Linear(4, 4), nn.ModuleList([nn.GRU(4, 4), nn.LayerNorm(4)])),
                                    nn.ModuleDict({"c": nn.Conv2d(2, 2, 1)})),  # fmt: skip
    "subclass-extra": lambda: nn.Sequential(nn.Linear(3, 3), ExtraLinear(3, 3)),
    "subclass-own-reset": lambda: nn.Sequential(OwnReset(3, 3)),
    "subclass-attention": lambda: nn.Sequential(MyAttention(8, 2)),
    "unknown-no-reset": lambda: NoReset(),
    "tied": _tied,
    "container-parameter": _container_param,
    "parameter-list": lambda: nn.Sequential(nn.ParameterList([nn.Parameter(torch.empty(2))]), nn.Linear(2, 2)),
    "patched-linear": _patched_linear,
    "shared-module": lambda: (lambda lin: nn.Sequential(lin, nn.ReLU(), lin))(nn.Linear(5, 5)),
}


def _nan(model):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))


def _reported(caught):
    names = set()
    for w in caught:
        text = str(w.message)
        if text.startswith("init_module_"):
            names.update(text.split(": ", 1)[1].split(", "))
    return names


@pytest.mark.parametrize("name", ZOO)
def test_every_parameter_is_initialized_or_reported(name):
    for unknown in ("skip", "reset"):
        model = ZOO[name]()
        _nan(model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fki.init_module_(model, seed=1, unknown=unknown)
        reported = _reported(caught)
        for n, p in model.named_parameters():
            if n in reported:
                assert torch.isnan(p).all(), (unknown, n)  # reported: left as it was
            else:
                assert not torch.isnan(p).any(), (unknown, n)  # initialized
        if unknown == "skip":
            skipped = reported
    model = ZOO[name]()
    _nan(model)
    if skipped:
        first = sorted(skipped)[0]
        with pytest.raises(TypeError, match=rf"^init_module_ has no rule for .*{re.escape(first)}"):
            fki.init_module_(model, seed=1)
        assert all(torch.isnan(p).all() for p in model.parameters())  # nothing written
    else:
        fki.init_module_(model, seed=1)


def test_subclasses_are_unknown_and_named():
    model = ZOO["subclass-extra"]()
    with pytest.raises(TypeError, match=r"ExtraLinear \(a subclass of Linear: built-in rules apply to exact classes only\) "
                                        r"\(parameters: 1\.weight, 1\.bias, 1\.scale\)"):  # fmt: skip
        fki.init_module_(model, seed=0)
    with pytest.warns(UserWarning, match=r"skipped 3 parameters it has no rule for: 1\.weight, 1\.bias, 1\.scale"):
        fki.init_module_(model, seed=0, unknown="skip")
    _nan(model)
    fki.init_module_(model, seed=0, unknown="reset")  # its own reset_parameters
    assert torch.equal(model[1].scale, torch.full((3,), 7.0)) and model[1].weight.abs().max() <= 1 / math.sqrt(3)
    own = ZOO["subclass-own-reset"]()
    fki.init_module_(own, seed=0, unknown="reset")  # not Linear's rule: its own
    assert torch.equal(own[0].weight, torch.full((3, 3), 2.0)) and torch.equal(own[0].bias, torch.full((3,), -2.0))
    attn = ZOO["subclass-attention"]()
    _nan(attn)
    fki.init_module_(attn, seed=0, unknown="reset")  # _reset_parameters
    assert torch.equal(attn[0].in_proj_bias, torch.zeros(24)) and not torch.isnan(attn[0].in_proj_weight).any()


def test_tied_weights_are_filled_once_by_their_first_owner():
    model = _tied()
    fki.init_module_(model, seed=2)
    assert model[0].weight is model[2].weight
    assert torch.equal(model[0].weight, fk.normal_(torch.empty(20, 8), seed=2, stream=fki.stream_for("0.weight")))


def test_container_and_patched_parameters_are_reported():
    with pytest.raises(TypeError, match=r"no rule for Sequential \(parameters: gate\)"):
        fki.init_module_(_container_param(), seed=0)
    with pytest.raises(TypeError, match=r"no rule for Linear \(parameters its rule does not cover\) \(parameters: extra\)"):
        fki.init_module_(_patched_linear(), seed=0)
    with pytest.warns(UserWarning, match=r"left 1 parameters that no rule and no reset method covers: extra"):
        fki.init_module_(_patched_linear(), seed=0, unknown="reset")


def test_meta_lazy_and_dtype_errors_come_before_any_write():
    with torch.device("meta"):
        meta = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match=r"parameter '0\.weight' is on the meta device .*call module\.to_empty\(device=\.\.\.\) first"):
        fki.init_module_(meta, seed=0)
    model = meta.to_empty(device="cpu")
    fki.init_module_(model, seed=0)
    assert torch.equal(model[1].running_var, torch.ones(4))
    lazy = nn.Sequential(nn.Linear(2, 2), nn.LazyLinear(3))
    before = lazy[0].weight.detach().clone()
    with pytest.raises(ValueError, match=r"parameter '1\.weight' is uninitialized \(a lazy module\); run a forward pass"):
        fki.init_module_(lazy, seed=0)
    assert torch.equal(lazy[0].weight, before)
    lazy(torch.ones(1, 2))  # materialized: LazyLinear becomes Linear
    fki.init_module_(lazy, seed=0)
    wrong = nn.Sequential(nn.LayerNorm(2), nn.Linear(2, 2, dtype=torch.complex64))
    _nan(wrong)
    with pytest.raises(TypeError, match=r"fills '1\.weight' at random, which needs a CPU or CUDA float16, bfloat16, float32 or float64 tensor; got torch\.complex64"):
        fki.init_module_(wrong, seed=0)
    assert torch.isnan(wrong[0].weight).all()


@pytest.mark.parametrize("bad, match", [
    (dict(module=torch.zeros(2)), r"module must be a torch\.nn\.Module, got Tensor"),
    (dict(prefix=3), r"prefix must be a str"),
    (dict(unknown="ignore"), r"unknown must be one of 'error', 'skip', 'reset', got 'ignore'"),
    (dict(seed=-1), r"seed must be an int in \[0, 2\*\*64\)"),
    (dict(threads=0), r"threads must be a nonzero int"),
])  # fmt: skip
def test_init_module_argument_errors(bad, match):
    kw = dict(module=nn.Linear(2, 2), seed=0) | bad
    module = kw.pop("module")
    with pytest.raises((TypeError, ValueError), match=match):
        fki.init_module_(module, **kw)


def test_constant_fills_bump_the_version_counter():
    ln = nn.LayerNorm(8)
    v = ln.weight._version
    fki.init_module_(ln, seed=0)
    assert ln.weight._version > v


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_constants_equal_torch_s_reset_in_every_dtype(dtype):
    ours = nn.Sequential(nn.PReLU(5, init=0.1, dtype=dtype), nn.LayerNorm((2, 3), dtype=dtype),
                         nn.BatchNorm1d(4, dtype=dtype))  # fmt: skip
    theirs = nn.Sequential(nn.PReLU(5, init=0.1, dtype=dtype), nn.LayerNorm((2, 3), dtype=dtype),
                           nn.BatchNorm1d(4, dtype=dtype))  # fmt: skip
    _nan(ours)
    fki.init_module_(ours, seed=0)
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b)


def test_reparametrized_weights_are_unknown_not_a_crash():
    """weight_norm and pruning replace Linear's weight parameter: reported, never a KeyError."""
    normed = torch.nn.utils.weight_norm(torch.nn.Linear(4, 3))
    with pytest.raises(TypeError, match=r"no rule for .*weight_g"):
        fki.init_module_(normed, seed=0)
    pruned = torch.nn.Linear(4, 3)
    import torch.nn.utils.prune as prune

    prune.l1_unstructured(pruned, "weight", 0.5)
    with pytest.warns(UserWarning, match=r"skipped .*weight_orig"):
        fki.init_module_(pruned, seed=0, unknown="skip")


def test_a_parameter_that_cannot_be_filled_stops_init_module_before_any_write():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 3))
    model[2].weight.untyped_storage().resize_(0)  # as FSDP frees parameters
    before = [p.detach().clone() for p in list(model.parameters())[:4]]
    with pytest.raises(ValueError, match=r"init_module_ cannot fill '2\.weight': .*not allocated"):
        fki.init_module_(model, seed=0)
    assert all(torch.equal(p, b) for p, b in zip(list(model.parameters())[:4], before, strict=True))
