"""fastkaiming.torch: the drop-in for torch.nn.init, and init_module_."""
import inspect
import math

import numpy as np
import pytest

import fastkaiming as fk

torch = pytest.importorskip("torch")
fki = pytest.importorskip("fastkaiming.torch")

DROP_INS = ["kaiming_normal_", "kaiming_uniform_", "xavier_normal_", "xavier_uniform_", "trunc_normal_",
            "normal_", "uniform_"]  # fmt: skip
EVERY = DROP_INS + ["orthogonal_", "sparse_", "constant_", "zeros_", "ones_", "eye_", "dirac_"]


def test_every_torch_init_function_is_here():
    public = {n for n in dir(torch.nn.init) if n.endswith("_") and not n.startswith("_")
              and inspect.isfunction(getattr(torch.nn.init, n))}  # fmt: skip
    assert public == set(EVERY)
    assert set(EVERY) | {"calculate_gain"} <= set(fki.__all__)


@pytest.mark.parametrize("name", EVERY)
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
    class Gate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.g = torch.nn.Parameter(torch.ones(4))

        def reset_parameters(self):
            torch.nn.init.constant_(self.g, 0.5)

    m = torch.nn.Sequential(torch.nn.Linear(4, 4), Gate())
    before = m[0].weight.detach().clone()
    with pytest.raises(TypeError, match=r"^init_module_ has no rule for Gate \(parameters: 1\.g\); pass unknown='skip'"):
        fki.init_module_(m, seed=0)
    assert torch.equal(m[0].weight, before)  # nothing written
    with pytest.warns(UserWarning, match=r"skipped 1 parameters it has no rule for: 1\.g$"):
        fki.init_module_(m, seed=0, unknown="skip")
    assert torch.equal(m[1].g, torch.ones(4)) and not torch.equal(m[0].weight, before)
    fki.init_module_(m, seed=0, unknown="reset")
    assert torch.equal(m[1].g, torch.full((4,), 0.5))


# ---- constant_, zeros_, ones_, eye_, dirac_: torch's behaviour --------------------------


@pytest.mark.parametrize("name, args, shape", [
    ("constant_", (0.3,), (3, 5)), ("zeros_", (), (4, 2, 3)), ("ones_", (), (7,)),
    ("eye_", (), (3, 5)), ("eye_", (), (6, 2)),
    ("dirac_", (), (3, 16, 5)), ("dirac_", (), (16, 3, 5, 5)), ("dirac_", (3,), (6, 4, 3, 3)),
    ("dirac_", (2,), (8, 2, 3, 3, 3)), ("dirac_", (4,), (4, 5, 2, 2)),
])  # fmt: skip
def test_deterministic_drop_ins_equal_torch_s(name, args, shape):
    ours = torch.nn.Parameter(torch.full(shape, float("nan")))
    theirs = torch.full(shape, float("nan"))
    v = ours._version
    assert getattr(fki, name)(ours, *args) is ours
    getattr(torch.nn.init, name)(theirs, *args)
    assert torch.equal(ours.detach(), theirs) and ours.requires_grad and ours._version > v


@pytest.mark.parametrize("call, match", [
    (lambda: fki.eye_(torch.empty(2, 2, 2)), "Only tensors with 2 dimensions are supported"),
    (lambda: fki.dirac_(torch.empty(2, 2)), r"Only tensors with 3, 4, or 5 dimensions are supported"),
    (lambda: fki.dirac_(torch.empty(5, 2, 3), groups=2), "dim 0 must be divisible by groups"),
    (lambda: fki.orthogonal_(torch.empty(4)), "Only tensors with 2 or more dimensions are supported"),
    (lambda: fki.orthogonal_(torch.empty(4, 4), gain="1"), r"gain must be a real number, got str '1'"),
    (lambda: fki.sparse_(torch.empty(4, 4, 4), 0.5), "Only tensors with 2 dimensions are supported"),
    (lambda: fki.sparse_(torch.empty(4, 4), 1.5), r"sparsity must be in \[0, 1\] .* got 1\.5"),
    (lambda: fki.sparse_(torch.empty(4, 4), 0.5, std=-1.0, seed=0), r"std must be >= 0, got -1\.0"),
    (lambda: fki.sparse_(torch.empty(4, 4), 0.5, generator=torch.Generator(), seed=0), "either generator= or seed="),
])  # fmt: skip
def test_drop_in_errors(call, match):
    with pytest.raises(ValueError if "real number" not in match else TypeError, match=match):
        call()


# ---- orthogonal_ and sparse_: torch's algorithms on fastkaiming's normal fill ------------


@pytest.mark.parametrize("shape", [(16, 8), (8, 16), (6, 3, 2, 2), (5, 5)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_orthogonal_is_orthogonal_and_a_function_of_the_seed(shape, dtype):
    t = fki.orthogonal_(torch.empty(shape, dtype=dtype), gain=2.0, seed=9, stream=4)
    flat = t.reshape(shape[0], -1).double() / 2
    small = min(flat.shape)
    gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
    assert torch.allclose(gram, torch.eye(small, dtype=torch.float64), atol=1e-5)
    assert torch.equal(t, fki.orthogonal_(torch.empty(shape, dtype=dtype), gain=2.0, seed=9, stream=4))
    assert not torch.equal(t, fki.orthogonal_(torch.empty(shape, dtype=dtype), gain=2.0, seed=9, stream=5))
    # sign-corrected QR is Gram-Schmidt: the first column (of the tall orientation) is the
    # normalized first column of the fastkaiming normal matrix, whatever the LAPACK
    a = fk.normal_(np.empty(flat.shape, np.float64 if dtype == torch.float64 else np.float32), seed=9, stream=4)
    a = torch.from_numpy(a).double()
    tall, first = (flat, a) if flat.shape[0] >= flat.shape[1] else (flat.T, a.T)
    assert torch.allclose(tall[:, 0], first[:, 0] / first[:, 0].norm(), atol=1e-5)


def test_orthogonal_draws_its_seed_from_torch_generators():
    torch.manual_seed(1)
    a = fki.orthogonal_(torch.empty(4, 6))
    torch.manual_seed(1)
    assert torch.equal(a, fki.orthogonal_(torch.empty(4, 6)))


@pytest.mark.parametrize("rows, cols, sparsity", [(10, 6, 0.3), (64, 200, 0.1), (7, 3, 0.0), (5, 4, 1.0)])
def test_sparse_zeros_per_column_and_values_from_the_normal_fill(rows, cols, sparsity):
    t = fki.sparse_(torch.empty(rows, cols), sparsity, std=0.5, seed=3, stream=2)
    zeros = math.ceil(sparsity * rows)
    assert torch.equal((t == 0).sum(0), torch.full((cols,), zeros))
    normal = fk.normal_(torch.empty(rows, cols), 0.0, 0.5, seed=3, stream=2)
    assert torch.equal(t[t != 0], normal[t != 0])
    assert torch.equal(t, fki.sparse_(torch.empty(rows, cols), sparsity, std=0.5, seed=3, stream=2))


def test_sparse_zero_positions_are_uniform_and_seeded():
    rows, cols = 20, 5000
    t = fki.sparse_(torch.empty(rows, cols), 0.25, seed=11)
    per_row = (t == 0).sum(1).double()  # each row is zeroed in a quarter of the columns
    expected, sd = cols * 0.25, math.sqrt(cols * 0.25 * 0.75)
    assert (per_row - expected).abs().max() < 5 * sd
    other = fki.sparse_(torch.empty(rows, cols), 0.25, seed=12)
    assert not torch.equal(t == 0, other == 0)


# ---- meta tensors: no-ops, as torch's ----------------------------------------------------


@pytest.mark.parametrize("name, args", [
    ("kaiming_normal_", ()), ("kaiming_uniform_", ()), ("xavier_normal_", ()), ("xavier_uniform_", ()),
    ("trunc_normal_", ()), ("normal_", ()), ("uniform_", ()), ("orthogonal_", ()), ("sparse_", (0.5,)),
    ("constant_", (1.0,)), ("zeros_", ()), ("ones_", ()), ("eye_", ()), ("dirac_", ()),
])  # fmt: skip
def test_drop_ins_are_no_ops_on_meta_tensors(name, args):
    t = torch.empty(4, 4, 3, device="meta") if name == "dirac_" else torch.empty(4, 6, device="meta")
    state = torch.get_rng_state()
    assert getattr(fki, name)(t, *args) is t
    assert torch.equal(torch.get_rng_state(), state)  # no seed drawn
    if name in DROP_INS:
        with pytest.raises(ValueError, match="either generator= or seed="):
            getattr(fki, name)(t, *args, generator=torch.Generator(), seed=1)


def test_meta_tensors_keep_torch_s_argument_checks():
    with pytest.raises(ValueError, match="Mode fan_sideways not supported"):
        fki.kaiming_normal_(torch.empty(3, 3, device="meta"), mode="fan_sideways")
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        fki.eye_(torch.empty(3, device="meta"))


def test_sparse_through_a_generator_takes_one_stream_after_its_checks():
    g = fk.Generator(5)
    w = g.fill(fki.sparse_, torch.empty(6, 4), 0.5)
    assert g.next_stream == 1
    assert torch.equal(w, fki.sparse_(torch.empty(6, 4), 0.5, seed=5, stream=0))
    with pytest.raises(ValueError, match="sparsity must be in"):
        g.fill(fki.sparse_, torch.empty(6, 4), 2.0)
    assert g.next_stream == 1
