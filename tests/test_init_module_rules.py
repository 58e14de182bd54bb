"""init_module_(rules=...): a user's policy by class and by parameter-name pattern, stated with
torch.nn.init's fills; and init_module_(device=...), which names the buffers it materialized
that nothing re-initialized (issue 19, item 3).

Every random rule is compared bit for bit with the public fill of the same arguments on the
parameter's stream, stream_for(qualified name).
"""
import functools
import re
import warnings

import pytest

torch = pytest.importorskip("torch")
fki = pytest.importorskip("fastkaiming.torch")
from fastkaiming import _api  # noqa: E402

nn = torch.nn
P = functools.partial
SEED = 5


def _public(fill, shape, name, dtype=torch.float32, **kwargs):
    """The public drop-in `fill` on a fresh tensor, on the stream of `name`."""
    return fill(torch.empty(shape, dtype=dtype), **kwargs, seed=SEED, stream=fki.stream_for(name))


class RMSNorm(nn.Module):  # a custom layer: no built-in rule
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n))


class Rotary(nn.Module):  # a computed non-persistent buffer, as Llama's rotary embedding
    def __init__(self, n):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / 10000 ** (torch.arange(0, n, 2).float() / n), persistent=False)


class MyLinear(nn.Linear):
    pass


def _model(dtype=torch.float32):
    return nn.ModuleDict({
        "emb": nn.Embedding(11, 8, padding_idx=2),
        "proj": nn.Linear(8, 6),
        "conv": nn.Conv1d(6, 4, 3),
        "mine": MyLinear(4, 3),
        "norm": RMSNorm(3),
        "ln": nn.LayerNorm(3),
    }).to(dtype)  # fmt: skip


RANDOM = [  # (rule, the drop-in, its arguments)
    (P(fki.normal_, std=0.02), fki.normal_, dict(std=0.02)),
    (P(torch.nn.init.normal_, 0.5, 2.0), fki.normal_, dict(mean=0.5, std=2.0)),
    (fki.uniform_, fki.uniform_, {}),
    (P(fki.uniform_, a=-0.1, b=0.3), fki.uniform_, dict(a=-0.1, b=0.3)),
    (P(torch.nn.init.trunc_normal_, std=0.02, a=-0.04, b=0.04), fki.trunc_normal_, dict(std=0.02, a=-0.04, b=0.04)),
    (fki.kaiming_normal_, fki.kaiming_normal_, {}),
    (P(torch.nn.init.kaiming_uniform_, a=5 ** 0.5), fki.kaiming_uniform_, dict(a=5 ** 0.5)),
    (P(fki.kaiming_normal_, mode="fan_out", nonlinearity="relu"), fki.kaiming_normal_,
     dict(mode="fan_out", nonlinearity="relu")),
    (torch.nn.init.xavier_normal_, fki.xavier_normal_, {}),
    (P(fki.xavier_uniform_, gain=2.0), fki.xavier_uniform_, dict(gain=2.0)),
]  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("rule, fill, kwargs", RANDOM, ids=[repr(r[2]) or r[1].__name__ for r in RANDOM])
def test_a_random_rule_is_the_public_fill_on_the_parameter_s_stream(rule, fill, kwargs, dtype):
    model = _model(dtype)
    fki.init_module_(model, seed=SEED, rules={nn.Conv1d: {"weight": rule}, (RMSNorm, MyLinear): 1.0})
    assert torch.equal(model["conv"].weight.detach(), _public(fill, (4, 6, 3), "conv.weight", dtype, **kwargs))
    # the rest as without rules: the conv bias by Conv1d's built-in rule
    plain = _model(dtype)
    fki.init_module_(plain, seed=SEED, rules={(RMSNorm, MyLinear): 1.0})
    assert torch.equal(model["conv"].bias, plain["conv"].bias)


@pytest.mark.parametrize("rule, value", [(0, 0.0), (-1.5, -1.5), (fki.zeros_, 0.0), (torch.nn.init.ones_, 1.0),
                                         (P(fki.constant_, val=0.25), 0.25), (P(torch.nn.init.constant_, val=3), 3.0)])  # fmt: skip
def test_a_constant_rule(rule, value):
    model = _model()
    fki.init_module_(model, seed=SEED, rules={"*.weight": rule, MyLinear: 0})
    for name, p in model.named_parameters():
        if name.endswith(".weight"):
            assert torch.all(p == value), name


def test_precedence_name_patterns_then_classes_then_built_ins():
    rules = {
        "proj.*": P(fki.normal_, std=3.0),      # over the class rule for Linear
        "*.bias": 0,                              # first matching pattern wins
        "*": 7.0,                                 # ... this one matches everything after
        nn.Linear: P(fki.normal_, std=0.02),     # mine (a subclass): nearest class in the MRO
        MyLinear: {"weight": fki.xavier_uniform_},  # nearer than Linear; its bias falls through
    }
    model = _model()
    fki.init_module_(model, seed=SEED, rules=rules)
    assert torch.equal(model["proj"].weight.detach(), _public(fki.normal_, (6, 8), "proj.weight", std=3.0))
    assert torch.equal(model["proj"].bias.detach(), _public(fki.normal_, (6,), "proj.bias", std=3.0))
    assert not model["conv"].bias.any() and not model["mine"].bias.any()
    assert torch.all(model["norm"].weight == 7.0) and torch.all(model["emb"].weight[3] == 7.0)
    assert torch.all(model["mine"].weight == 7.0)  # "*" is a pattern: over every class rule

    rules = {nn.Linear: P(fki.normal_, std=0.02), MyLinear: {"weight": fki.xavier_uniform_}, RMSNorm: 1}
    model = _model()
    with pytest.warns(UserWarning, match=r"skipped 1 parameters it has no rule for: mine.bias$"):
        fki.init_module_(model, seed=SEED, rules=rules, unknown="skip")  # no built-in rule for MyLinear
    assert torch.equal(model["mine"].weight.detach(), _public(fki.xavier_uniform_, (3, 4), "mine.weight"))
    assert torch.equal(model["proj"].bias.detach(), _public(fki.normal_, (6,), "proj.bias", std=0.02))
    builtin = fki.init_module_(_model(), seed=SEED, rules={RMSNorm: 1, MyLinear: 0})
    assert torch.equal(model["conv"].weight, builtin["conv"].weight)  # no rule: the built-in one
    assert torch.equal(model["emb"].weight, builtin["emb"].weight)


def test_a_tuple_of_classes_and_a_policy_for_a_model_with_custom_layers():
    """"Every Linear and Embedding N(0, 0.02), every *Norm weight 1, biases 0" (GPT-2 style)."""
    model = _model()
    policy = {(nn.Linear, nn.Embedding, nn.Conv1d): P(torch.nn.init.normal_, std=0.02),
              "*norm.weight": 1, "*.bias": 0, "ln.weight": 1}  # fmt: skip
    fki.init_module_(model, seed=SEED, rules=policy)
    emb = _public(fki.normal_, (11, 8), "emb.weight", std=0.02)
    emb[2] = 0  # the padding row stays zero
    assert torch.equal(model["emb"].weight.detach(), emb)
    assert torch.equal(model["mine"].weight.detach(), _public(fki.normal_, (3, 4), "mine.weight", std=0.02))
    assert all(torch.all(model[n].weight == 1) for n in ("norm", "ln"))
    assert all(not p.any() for n, p in model.named_parameters() if n.endswith("bias"))


def test_a_rule_overrides_the_transformer_s_xavier_and_keeps_the_part_whole_property():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note on enable_nested_tensor
        model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
    rules = {"*linear1.weight": P(fki.normal_, std=0.5)}
    fki.init_module_(model, seed=SEED, rules=rules)
    name = "encoder.layers.0.linear1.weight"
    assert torch.equal(model.get_parameter(name).detach(), _public(fki.normal_, (16, 8), name, std=0.5))
    layer = model.encoder.layers[0]
    fki.init_module_(layer, seed=SEED, prefix="encoder.layers.0", rules=rules)
    assert torch.equal(layer.linear1.weight.detach(), _public(fki.normal_, (16, 8), name, std=0.5))


def test_random_rules_keep_the_batch(monkeypatch):
    calls = []
    monkeypatch.setattr(_api, "fill_batch", lambda requests: calls.append(len(requests)))
    monkeypatch.setattr(_api, "_fill", lambda *a, **k: pytest.fail("a fill outside the batch"))
    fki.init_module_(_model(), seed=SEED, rules={RMSNorm: 1, nn.Linear: P(fki.trunc_normal_, std=0.02)})
    assert calls == [7]  # emb.weight, proj, conv and mine's weight and bias: one binding call


def test_rules_do_not_depend_on_the_order_of_the_modules():
    a = _model()
    b = nn.ModuleDict(dict(reversed(list(_model().items()))))
    rules = {nn.Linear: P(fki.normal_, std=0.02), RMSNorm: 1}
    fki.init_module_(a, seed=SEED, rules=rules)
    fki.init_module_(b, seed=SEED, rules=rules)
    assert all(torch.equal(p, b.get_parameter(n)) for n, p in a.named_parameters())


@pytest.mark.parametrize("rules, error, match", [
    ([("*", 0)], TypeError, r"^rules must be a dict \(class or name pattern -> fill\), got list$"),
    ({3: 0}, TypeError, r"^rules keys are torch.nn.Module classes, tuples of them, or name patterns \(str\); got 3$"),
    ({int: 0}, TypeError, r"rules keys are .*got <class 'int'>$"),
    ({(): 0}, TypeError, r"rules keys are .*got \(\)$"),
    ({"*": "normal"}, TypeError, r"^rules\['\*'\] must be a number \(a constant\) or one of fastkaiming.torch's "
                                 r"\(or torch.nn.init's\) normal_, uniform_, .*; got 'normal'$"),
    ({"*": lambda t: t}, TypeError, r"^rules\['\*'\] must be a number"),
    ({"*": True}, TypeError, r"^rules\['\*'\] must be a number"),
    ({"*": P(fki.orthogonal_)}, TypeError, r"^rules\['\*'\] must be a number"),
    ({"*": float("inf")}, ValueError, r"^rules\['\*'\] must be finite, got inf$"),
    ({"*": P(fki.normal_, sd=1)}, TypeError, r"^rules\['\*'\]: normal_: got an unexpected keyword argument 'sd'$"),
    ({"*": P(fki.normal_, 0, 1, 2, 3, 4, 5)}, TypeError, r"^rules\['\*'\]: normal_: too many positional arguments$"),
    ({nn.Linear: P(fki.normal_, std=-1)}, ValueError, r"^rules\[Linear\]: normal_: std must be >= 0, got -1"),
    ({nn.Linear: {"weight": P(fki.kaiming_normal_, mode="in")}}, ValueError,
     r"^rules\[Linear\]\['weight'\]: kaiming_normal_: mode must be one of"),
    ({(nn.Linear, RMSNorm): P(fki.trunc_normal_, a=1, b=0)}, ValueError,
     r"^rules\[\(Linear, RMSNorm\)\]: trunc_normal_: trunc_normal_ expects a < b, got a=1.0, b=0.0$"),
    ({"*": P(fki.trunc_normal_, std=0)}, ValueError, r"trunc_normal_: std must be > 0, got 0"),
    ({"*": P(fki.uniform_, a=1, b=0)}, ValueError, r"uniform_: uniform_ expects a <= b, got a=1.0, b=0.0$"),
    ({"*": P(fki.normal_, seed=3)}, ValueError, r"^rules\['\*'\]: normal_ with seed=: init_module_'s seed= and "
                                                r"the parameter's qualified name choose the random stream$"),
    ({"*": P(fki.normal_, generator=torch.Generator())}, ValueError, r"normal_ with generator=:"),
    ({"*": P(fki.xavier_uniform_, stream=1)}, ValueError, r"xavier_uniform_ with stream=:"),
    ({nn.Linear: {1: 0}}, TypeError, r"^rules\[Linear\]: parameter names are str, got 1$"),
])  # fmt: skip
def test_rules_are_checked_before_anything_is_written(rules, error, match):
    model = _model()
    before = {n: p.clone() for n, p in model.named_parameters()}
    with pytest.raises(error, match=match):
        fki.init_module_(model, seed=SEED, rules=rules)
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())


def test_a_rule_that_does_not_fit_a_parameter_names_both_before_any_write():
    model = _model()
    before = {n: p.clone() for n, p in model.named_parameters()}
    with pytest.raises(ValueError, match=re.escape(
            "init_module_ cannot fill 'proj.bias' by the rule rules[Linear] (kaiming_normal_()): Fan in and fan out "
            "can not be computed for tensor with fewer than 2 dimensions")):  # fmt: skip
        fki.init_module_(model, seed=SEED, rules={nn.Linear: fki.kaiming_normal_, RMSNorm: 1})
    with pytest.raises(ValueError, match=r"^init_module_ cannot fill 'proj.weight' by the rule rules\['proj.w\*'\] "
                                         r"\(normal_\(1000000.0\)\): mean=1000000.0 is out of range for float16$"):
        fki.init_module_(_model(torch.float16), seed=SEED, rules={"proj.w*": P(fki.normal_, 1e6), RMSNorm: 1})
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())


def test_unknown_parameters_name_rules_as_a_way_out():
    with pytest.raises(TypeError, match=r"init_module_ has no rule for .*RMSNorm .* or give them rules=$"):
        fki.init_module_(_model(), seed=SEED)


# -- device=: materialize, and name the buffers nothing re-initialized -------------------------

def _meta_model():
    with torch.device("meta"):
        return nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), Rotary(8), nn.Embedding(5, 4))


def test_device_materializes_and_names_the_buffers_left_uninitialized():
    model = _meta_model()
    with pytest.warns(UserWarning, match=r"^init_module_ materialized 1 buffers that nothing re-initialized: "
                                         r"2.inv_freq; their memory is uninitialized"):  # fmt: skip
        fki.init_module_(model, seed=SEED, device="cpu")
    plain = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), Rotary(8), nn.Embedding(5, 4))
    fki.init_module_(plain, seed=SEED)
    assert all(torch.equal(p, plain.get_parameter(n)) for n, p in model.named_parameters())
    assert torch.equal(model[1].running_var, torch.ones(4))  # reset: not named


def test_device_warns_with_the_prefix_and_not_for_buffers_a_reset_wrote():
    class Resets(Rotary):  # a parameter no rule covers: unknown="reset" calls this
        def __init__(self, n):
            super().__init__(n)
            self.scale = nn.Parameter(torch.empty(1))

        def reset_parameters(self):
            self.inv_freq.fill_(1.0)
            self.scale.data.fill_(2.0)

    with torch.device("meta"):
        model = nn.Sequential(Resets(4), RMSNorm(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fki.init_module_(model, seed=SEED, device=torch.device("cpu"), unknown="reset", prefix="m",
                         rules={RMSNorm: 1})  # fmt: skip
    assert torch.equal(model[0].inv_freq, torch.ones(2))
    with torch.device("meta"):
        model = nn.Sequential(Rotary(4), RMSNorm(3))
    with pytest.warns(UserWarning, match=r"nothing re-initialized: m.0.inv_freq; "):
        fki.init_module_(model, seed=SEED, device="cpu", prefix="m", rules={RMSNorm: 1})


def test_device_never_warns_on_a_normally_built_model():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), Rotary(8))
    freq = model[2].inv_freq.clone()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fki.init_module_(model, seed=SEED, device="cpu")
    assert torch.equal(model[2].inv_freq, freq)


def test_device_errors_come_before_any_change():
    model = _meta_model()
    model[2].inv_freq = torch.zeros(4)  # holds data: to_empty would replace it
    with pytest.raises(ValueError, match=r"^init_module_\(device=...\) materializes a module built on the meta "
                                         r"device, but 2.inv_freq hold data"):  # fmt: skip
        fki.init_module_(model, seed=SEED, device="cpu")
    assert model[0].weight.is_meta
    with pytest.raises(ValueError, match=r"^device='meta' does not materialize anything"):
        fki.init_module_(_meta_model(), seed=SEED, device="meta")
    with pytest.raises(ValueError, match=r"^device must be a torch device \(or its name\) to materialize the "
                                         r"module on, got 'gpu0'"):  # fmt: skip
        fki.init_module_(_meta_model(), seed=SEED, device="gpu0")
    with pytest.raises(ValueError, match=r"parameter '0.weight' is on the meta device \(no memory\); pass device= to"):
        fki.init_module_(_meta_model(), seed=SEED)
