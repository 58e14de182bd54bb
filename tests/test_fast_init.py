"""fastkaiming.torch.fast_init on plain torch: what it routes, with which stream, what it lets
through, and that it leaves torch as it found it."""
import math
import threading

import pytest

import fastkaiming as fk

torch = pytest.importorskip("torch")
fki = pytest.importorskip("fastkaiming.torch")
from fastkaiming.torch import _fast_init, fast_init  # noqa: E402

init = torch.nn.init
TORCH_TRUNC = init._no_grad_trunc_normal_
SQRT5 = math.sqrt(5)


def empty(*shape, dtype=torch.float32):
    return torch.empty(*shape, dtype=dtype)


def bound(gain, fan):
    return math.sqrt(3.0) * gain / math.sqrt(fan)


# call under fast_init -> the fastkaiming fill it must equal (stream 0: the first call)
CALLS = {
    "init.normal_": (lambda t: init.normal_(t, 0.5, 2.0), lambda t, s: fk.normal_(t, 0.5, 2.0, seed=s)),
    "init.uniform_": (lambda t: init.uniform_(t, -1.0, 3.0), lambda t, s: fk.uniform_(t, -1.0, 3.0, seed=s)),
    "init.kaiming_uniform_": (lambda t: init.kaiming_uniform_(t, a=SQRT5),
                              lambda t, s: fk.uniform_(t, -bound(init.calculate_gain("leaky_relu", SQRT5), 24),
                                                       bound(init.calculate_gain("leaky_relu", SQRT5), 24), seed=s)),
    "init.kaiming_normal_": (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
                             lambda t, s: fk.normal_(t, 0.0, math.sqrt(2.0) / math.sqrt(32), seed=s)),
    "init.xavier_uniform_": (lambda t: init.xavier_uniform_(t, gain=2.0),
                             lambda t, s: fk.uniform_(t, -2.0 * math.sqrt(6 / 56), 2.0 * math.sqrt(6 / 56), seed=s)),
    "init.xavier_normal_": (lambda t: init.xavier_normal_(t), lambda t, s: fk.normal_(t, 0.0, math.sqrt(2 / 56), seed=s)),
    "init.trunc_normal_": (lambda t: init.trunc_normal_(t, 0.1, 0.02, -0.03, 0.2),
                           lambda t, s: fk.trunc_normal_(t, 0.1, 0.02, -0.03, 0.2, seed=s)),
    "Tensor.normal_": (lambda t: t.normal_(0.0, 0.02), lambda t, s: fk.normal_(t, 0.0, 0.02, seed=s)),
    "Tensor.uniform_": (lambda t: t.uniform_(-0.5, 0.25), lambda t, s: fk.uniform_(t, -0.5, 0.25, seed=s)),
    "Tensor.uniform_ keywords": (lambda t: t.uniform_(**{"from": -2.0, "to": 0.0}),
                                 lambda t, s: fk.uniform_(t, -2.0, 0.0, seed=s)),
}


@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_each_random_call_is_the_fastkaiming_fill_with_its_arguments(name, dtype):
    call, expected = CALLS[name]
    t = empty(32, 24, dtype=dtype)
    with fast_init(seed=9) as report:
        assert call(t) is t
    assert torch.equal(t, expected(empty(32, 24, dtype=dtype), 9))
    assert (report.routed, report.passed, report.meta) == (1, 0, 0)


def test_references_a_library_keeps_are_routed_too():
    from torch.nn.init import normal_ as held_normal  # as transformers' table and timm keep them
    from torch.nn.init import trunc_normal_ as held_trunc

    a, b = empty(64), empty(64)
    with fast_init(seed=3) as report:
        held_normal(a, std=0.02)
        held_trunc(b, std=0.02)
    assert torch.equal(a, fk.normal_(empty(64), 0.0, 0.02, seed=3, stream=0))
    assert torch.equal(b, fk.trunc_normal_(empty(64), 0.0, 0.02, seed=3, stream=1))
    assert report.routed == 2


def test_construction_streams_follow_call_order_and_ignore_torch_s_seed():
    def build():
        return torch.nn.Sequential(torch.nn.Linear(24, 16), torch.nn.Embedding(10, 8), torch.nn.LayerNorm(8))

    torch.manual_seed(0)
    with fast_init(seed=1) as report:
        a = build()
    torch.manual_seed(123)
    with fast_init(seed=1):
        b = build()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    lin, emb, ln = a
    g = init.calculate_gain("leaky_relu", SQRT5)
    assert torch.equal(lin.weight.detach(), fk.uniform_(empty(16, 24), -bound(g, 24), bound(g, 24), seed=1, stream=0))
    assert torch.equal(lin.bias.detach(), fk.uniform_(empty(16), -1 / math.sqrt(24), 1 / math.sqrt(24), seed=1, stream=1))
    assert torch.equal(emb.weight.detach(), fk.normal_(empty(10, 8), seed=1, stream=2))
    assert torch.equal(ln.weight, torch.ones(8))  # constants stay torch's own
    assert (report.routed, report.passed) == (3, 0)


def test_with_a_module_streams_come_from_names_not_call_order():
    def run(order):
        m = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Linear(6, 4))
        with fast_init(m, seed=5):
            for i in order:
                init.normal_(m[i].weight, std=0.02)
        return m

    a, b = run([0, 1]), run([1, 0])
    assert torch.equal(a[0].weight, b[0].weight) and torch.equal(a[1].weight, b[1].weight)
    assert torch.equal(a[1].weight.detach(), fk.normal_(empty(4, 6), 0.0, 0.02, seed=5, stream=fki.stream_for("1.weight")))


def test_data_and_whole_views_of_a_parameter_use_its_name():
    m = torch.nn.Linear(8, 6)
    with fast_init(m, seed=2) as report:
        m.weight.data.normal_(0.0, 0.5)
        m.bias.data.view(2, 3).uniform_(-1.0, 1.0)
        part = m.weight.data[:3]
        part.normal_()  # a part of a parameter: a call-order stream
    weight = fk.normal_(empty(6, 8), 0.0, 0.5, seed=2, stream=fki.stream_for("weight"))
    weight[:3] = fk.normal_(empty(3, 8), seed=2, stream=0)
    assert torch.equal(m.weight.detach(), weight)
    assert torch.equal(m.bias.detach(), fk.uniform_(empty(6), -1.0, 1.0, seed=2, stream=fki.stream_for("bias")))
    assert report.routed == 3


def test_tied_parameters_use_their_first_name():
    m = torch.nn.ModuleDict({"emb": torch.nn.Embedding(10, 4), "head": torch.nn.Linear(4, 10, bias=False)})
    m["head"].weight = m["emb"].weight
    with fast_init(m, seed=4):
        init.normal_(m["head"].weight, std=0.02)
    assert torch.equal(m["emb"].weight.detach(), fk.normal_(empty(10, 4), 0.0, 0.02, seed=4, stream=fki.stream_for("emb.weight")))


def test_mha_and_orthogonal_are_reproducible():
    def build():
        with fast_init(seed=8) as report:
            mha = torch.nn.MultiheadAttention(16, 2, add_bias_kv=True)
            q = init.orthogonal_(empty(12, 6))
        return mha, q, report

    torch.manual_seed(0)
    a, qa, report = build()
    torch.manual_seed(1)
    b, qb, _ = build()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert torch.equal(qa, qb)
    assert torch.allclose(qa.T @ qa, torch.eye(6), atol=1e-5)
    # out_proj weight and bias (Linear), in_proj_weight, bias_k, bias_v, the QR's matrix
    assert report.passed == 0 and report.routed == 6


# -- what is let through ---------------------------------------------------------------------

class Marked(torch.Tensor):
    pass


LET_THROUGH = {
    "generator": (lambda t: init.normal_(t, generator=torch.Generator().manual_seed(0)), torch.float32, "generator= given"),
    "complex dtype": (lambda t: t.normal_(), torch.complex64, "dtype torch.complex64"),
    "subclass": (lambda t: init.uniform_(t.as_subclass(Marked)), torch.float32, "a Marked, not a plain tensor"),
    "torch.randn": (lambda t: t.copy_(torch.randn(t.shape)), torch.float32, "torch's own generator"),
    "Tensor.exponential_": (lambda t: t.exponential_(), torch.float32, "torch's own generator"),
}


@pytest.mark.parametrize("case", LET_THROUGH)
def test_calls_fastkaiming_cannot_serve_run_as_torch_would_and_are_counted(case):
    call, dtype, why = LET_THROUGH[case]
    torch.manual_seed(6)
    expected = call(empty(40, 3, dtype=dtype))
    torch.manual_seed(6)
    t = empty(40, 3, dtype=dtype)
    with fast_init(seed=1) as report:
        call(t)
    assert torch.equal(t, expected)
    assert report.routed == 0 and report.passed == 1
    [(_, reason)] = report.let_through
    assert why in reason
    t = torch.zeros(40, 3, dtype=dtype)
    with pytest.raises(_fast_init.NotServedError, match="fast_init\\(strict=True\\): .* cannot be served exactly"):
        with fast_init(seed=1, strict=True):
            call(t)
    assert torch.equal(t, torch.zeros(40, 3, dtype=dtype))  # nothing written


def test_an_in_place_op_autograd_records_is_torch_s():
    p = torch.nn.Parameter(empty(5))
    with fast_init(seed=1) as report:
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            p.normal_()  # torch's own error, not a silent no_grad write
        with torch.no_grad():
            p.normal_()
    assert report.routed == 1 and report.passed == 1


def test_meta_tensors_are_torch_s_no_ops_counted_apart():
    with torch.device("meta"), fast_init(seed=1) as report:
        m = torch.nn.Linear(8, 4)
        init.trunc_normal_(m.weight)
    assert m.weight.is_meta and (report.routed, report.meta, report.passed) == (0, 3, 0)


def test_zero_element_tensors_are_torch_s_no_ops_counted_apart():
    with fast_init(seed=1, strict=True) as report:
        init.normal_(empty(0, 4))
        empty(0).uniform_()
    assert (report.routed, report.empty, report.passed) == (0, 2, 0)


def test_a_fill_fastkaiming_rejects_is_left_to_torch():
    torch.manual_seed(2)
    with pytest.warns(UserWarning, match="mean is more than 2 std"):  # torch's own
        expected = init.trunc_normal_(empty(1000), 0.0, 1.0, 50.0, 51.0)  # 50 std out: beyond the sampler
    torch.manual_seed(2)
    with fast_init(seed=1) as report, pytest.warns(UserWarning, match="mean is more than 2 std"):
        got = init.trunc_normal_(empty(1000), 0.0, 1.0, 50.0, 51.0)
    assert torch.equal(got, expected) and report.passed == 1


# -- restoring, threads, nesting ---------------------------------------------------------------

def torch_normal(seed):
    torch.manual_seed(seed)
    return empty(16).normal_()


def test_everything_is_restored_on_exit_and_on_an_exception():
    expected = torch_normal(0)
    with pytest.raises(KeyError):
        with fast_init(seed=1):
            assert init._no_grad_trunc_normal_ is not TORCH_TRUNC
            raise KeyError("boom")
    assert init._no_grad_trunc_normal_ is TORCH_TRUNC
    assert torch.overrides._get_current_function_mode_stack() == []
    assert torch.equal(torch_normal(0), expected)


def test_other_threads_see_torch_s_own():
    expected = torch_normal(0)
    seen = {}

    def other():
        seen["t"] = torch.equal(torch_normal(0), expected)
        t = empty(16)
        torch.manual_seed(0)
        init.trunc_normal_(t)  # the module global is replaced, but not for this thread
        torch.manual_seed(0)
        seen["trunc"] = torch.equal(t, init.trunc_normal_(empty(16)))

    with fast_init(seed=1) as report:
        worker = threading.Thread(target=other)
        worker.start()
        worker.join(timeout=60)
        mine = empty(16).normal_()
    assert seen == {"t": True, "trunc": True}
    assert torch.equal(mine, fk.normal_(empty(16), seed=1, stream=0)) and report.routed == 1


def test_nested_blocks_the_innermost_serves():
    a, b, c = empty(8), empty(8), empty(8)
    with fast_init(seed=1) as outer:
        init.trunc_normal_(a)
        with fast_init(seed=2) as inner:
            init.trunc_normal_(b)
        init.trunc_normal_(c)
        assert init._no_grad_trunc_normal_ is not TORCH_TRUNC
    assert init._no_grad_trunc_normal_ is TORCH_TRUNC
    assert torch.equal(a, fk.trunc_normal_(empty(8), seed=1, stream=0))
    assert torch.equal(b, fk.trunc_normal_(empty(8), seed=2, stream=0))
    assert torch.equal(c, fk.trunc_normal_(empty(8), seed=1, stream=1))
    assert (outer.routed, inner.routed) == (2, 1)


def test_same_bits_on_any_thread_count():
    def build(threads):
        with fast_init(seed=3, threads=threads):
            return init.normal_(empty(300, 1000))

    assert torch.equal(build(1), build(2))


# -- arguments ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"module": "model", "seed": 0}, TypeError, "module must be a torch.nn.Module or None, got str"),
    ({"seed": None}, TypeError, "fast_init needs seed="),
    ({"seed": -1}, ValueError, "seed must be an int in \\[0, 2\\*\\*64\\)"),
    ({"seed": 0, "strict": 1}, TypeError, "strict must be a bool, got int"),
    ({"seed": 0, "threads": 0}, ValueError, "threads"),
])
def test_bad_arguments_raise_before_anything_changes(kwargs, error, match):
    with pytest.raises(error, match=match):
        with fast_init(**kwargs):
            pass
    assert init._no_grad_trunc_normal_ is TORCH_TRUNC


def test_report_says_what_went_where():
    with fast_init(seed=0) as report:
        init.normal_(empty(4))
        init.normal_(empty(4), generator=torch.Generator())
    assert repr(report) == "FastInitReport(routed=1, meta=0, empty=0, let_through=1)"
    assert "1 x torch.nn.init.normal_: generator= given" in str(report)


def test_init_functions_a_library_replaced_in_torch_nn_init_are_still_routed(monkeypatch):
    # transformers' guard_torch_init_functions puts wrappers in torch.nn.init while it runs
    # _init_weights; torch's own normal_ then hands the wrapper to the mode
    own = {name: getattr(init, name) for name in ("normal_", "uniform_", "kaiming_uniform_")}
    for name, f in own.items():
        monkeypatch.setattr(init, name, lambda *a, _f=f, **k: _f(*a, **k))
    a, b, c = empty(8, 4), empty(8, 4), empty(8, 4)
    with fast_init(seed=7) as report:
        init.normal_(a, std=0.5)
        init.uniform_(b)
        torch.nn.Linear(4, 8).reset_parameters  # noqa: B018
        init.kaiming_uniform_(c, a=SQRT5)
    g = init.calculate_gain("leaky_relu", SQRT5)
    assert torch.equal(a, fk.normal_(empty(8, 4), 0.0, 0.5, seed=7, stream=0))
    assert torch.equal(b, fk.uniform_(empty(8, 4), seed=7, stream=1))
    assert report.routed == 5 and report.passed == 0  # with the Linear's weight and bias
    assert torch.equal(c, fk.uniform_(empty(8, 4), -bound(g, 4), bound(g, 4), seed=7, stream=4))
