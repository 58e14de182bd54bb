"""fastkaiming.torch: the drop-in for torch.nn.init, and init_module_."""
import inspect
import math

import pytest

import fastkaiming as fk

torch = pytest.importorskip("torch")
fki = pytest.importorskip("fastkaiming.torch")

DROP_INS = ["kaiming_normal_", "kaiming_uniform_", "xavier_normal_", "xavier_uniform_", "trunc_normal_",
            "normal_", "uniform_"]  # fmt: skip


@pytest.mark.parametrize("name", DROP_INS)
def test_signature_is_torch_s(name):
    ours = inspect.signature(getattr(fki, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
    for pname, p in theirs.items():
        assert pname in ours, pname
        assert ours[pname].default == p.default, pname
    assert list(ours)[: len(theirs)] == list(theirs)  # the same positional order


CASES = {
    "kaiming_normal_": ((0.1, "fan_out", "relu"), lambda t, seed: fk.kaiming_normal_(t, 0.1, "fan_out", "relu", seed=seed)),
    "kaiming_uniform_": ((math.sqrt(5),), lambda t, seed: fk.kaiming_uniform_(t, math.sqrt(5), seed=seed)),
    "xavier_normal_": ((2.0,), lambda t, seed: fk.xavier_normal_(t, 2.0, seed=seed)),
    "xavier_uniform_": ((2.0,), lambda t, seed: fk.xavier_uniform_(t, 2.0, seed=seed)),
    "trunc_normal_": ((0.0, 0.02, -0.04, 0.04), lambda t, seed: fk.trunc_normal_(t, 0.0, 0.02, -0.04, 0.04, seed=seed)),
    "normal_": ((0.5, 2.0), lambda t, seed: fk.normal_(t, 0.5, 2.0, seed=seed)),
    "uniform_": ((-1.0, 3.0), lambda t, seed: fk.uniform_(t, -1.0, 3.0, seed=seed)),
}


@pytest.mark.parametrize("name", DROP_INS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_drop_in_fills_like_fastkaiming(name, dtype):
    args, base = CASES[name]
    p = torch.nn.Parameter(torch.empty(32, 24, dtype=dtype))
    ptr = p.data_ptr()
    assert getattr(fki, name)(p, *args, seed=5) is p
    assert p.data_ptr() == ptr and p.requires_grad
    expected = base(torch.empty(32, 24, dtype=dtype), 5)
    assert torch.equal(p.detach(), expected)


def test_torch_generators_give_reproducible_seeds():
    torch.manual_seed(0)
    a = fki.kaiming_normal_(torch.empty(16, 16))
    torch.manual_seed(0)
    b = fki.kaiming_normal_(torch.empty(16, 16))
    c = fki.kaiming_normal_(torch.empty(16, 16))
    assert torch.equal(a, b) and not torch.equal(b, c)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(fki.uniform_(torch.empty(8), generator=g1), fki.uniform_(torch.empty(8), generator=g2))
    with pytest.raises(ValueError, match="either generator= or seed="):
        fki.normal_(torch.empty(4), generator=g1, seed=1)


def test_trunc_normal_half_precision_stays_in_bounds():
    # torch's own trunc_normal_ computes in the tensor's dtype (pytorch/pytorch#145498)
    t = torch.empty(1 << 20, dtype=torch.float16)
    fki.trunc_normal_(t, std=0.02, a=-0.04, b=0.04, seed=1)
    assert t.min() >= -0.04 and t.max() <= 0.04
    assert abs(t.float().std().item() - 0.02 * 0.8796) < 2e-4


def model():
    return torch.nn.Sequential(
        torch.nn.Embedding(50, 16, padding_idx=3),
        torch.nn.Linear(16, 32),
        torch.nn.LayerNorm(32),
        torch.nn.Sequential(torch.nn.Conv1d(32, 8, 3), torch.nn.BatchNorm1d(8)),
        torch.nn.ConvTranspose2d(8, 4, 3, bias=False),
        torch.nn.RMSNorm(4),
    )


def test_init_module_follows_reset_parameters_rules():
    m = fki.init_module_(model(), seed=11)
    emb, lin, ln, (conv, bn), deconv, rms = m
    assert torch.equal(emb.weight[3], torch.zeros(16))
    assert torch.equal(emb.weight.detach(), _with_padding(fk.normal_(torch.empty(50, 16), seed=11, stream=fki.stream_for("0.weight"))))
    bound = 1 / math.sqrt(16)
    assert torch.equal(lin.weight.detach(), fk.kaiming_uniform_(torch.empty(32, 16), a=math.sqrt(5), seed=11, stream=fki.stream_for("1.weight")))
    assert torch.equal(lin.bias.detach(), fk.uniform_(torch.empty(32), -bound, bound, seed=11, stream=fki.stream_for("1.bias")))
    assert lin.weight.abs().max() <= bound
    assert torch.equal(ln.weight, torch.ones(32)) and torch.equal(ln.bias, torch.zeros(32))
    assert torch.equal(bn.weight, torch.ones(8)) and torch.equal(bn.bias, torch.zeros(8))
    assert torch.equal(rms.weight, torch.ones(4))
    assert conv.bias.abs().max() <= 1 / math.sqrt(32 * 3)
    # ConvTranspose2d weight (in, out, kh, kw): torch's fan_in is out * kh * kw
    assert deconv.weight.abs().max() <= 1 / math.sqrt(4 * 9)


def _with_padding(t):
    t[3] = 0
    return t


def test_init_module_is_independent_of_order_and_of_who_fills_what():
    whole = fki.init_module_(model(), seed=4)
    torch.manual_seed(123)  # a different torch state changes nothing
    again = fki.init_module_(model(), seed=4)
    for (n1, p1), (n2, p2) in zip(whole.named_parameters(), again.named_parameters(), strict=True):
        assert n1 == n2 and torch.equal(p1, p2), n1
    # one process fills only the conv block, another the rest: the same values
    part = model()
    fki.init_module_(part[3], seed=4, prefix="3")
    for (n, p), q in zip(part[3].named_parameters(), whole[3].parameters(), strict=True):
        assert torch.equal(p, q), n


def test_init_module_unknown_layers():
    m = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Bilinear(4, 4, 2))
    before = m[0].weight.detach().clone()
    with pytest.raises(TypeError, match=r"^init_module_ does not know how to initialize Bilinear; pass unknown='skip'"):
        fki.init_module_(m, seed=0)
    assert torch.equal(m[0].weight, before)  # nothing written
    bil = m[1].weight.detach().clone()
    fki.init_module_(m, seed=0, unknown="skip")
    assert torch.equal(m[1].weight, bil) and not torch.equal(m[0].weight, before)
    fki.init_module_(m, seed=0, unknown="reset")
    assert not torch.equal(m[1].weight, bil)
