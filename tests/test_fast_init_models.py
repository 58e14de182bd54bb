"""fast_init on real model libraries (small configs, no downloads): each library's own
initialization, served by fastkaiming, gives every parameter the library's distribution.

Two ways per model: the plain constructor under ``fast_init(seed=...)``, and meta device ->
``to_empty`` -> the library's own init entry point under ``fast_init(model, seed=...)``. Per
parameter tensor: equal to the library's own result where that is a constant, else the same
distribution (two-sample Kolmogorov-Smirnov against the library's own, both seeded: the test
cannot flake). Buffers equal the plain constructor's; the values do not depend on torch's seed.
"""
import importlib
import os

import pytest

import fastkaiming as fk

torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")
fki = pytest.importorskip("fastkaiming.torch")
from fastkaiming.torch import fast_init  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def isa():
    """The default kernel only: these tests are about routing (tests/test_dispatch.py and the
    fill tests compare the kernels), and whole models on every kernel cost too much time."""
P_MIN = 1e-4  # KS p-value below which two samples are called different
SAMPLE = 1 << 15  # elements compared per tensor (its first ones)


def _optional(name):
    """The package, or a skip: not installed, or (torchvision from PyPI beside torch's CPU
    build: "operator torchvision::nms does not exist") not loadable beside this torch."""
    try:
        return importlib.import_module(name)
    except (ImportError, RuntimeError) as e:
        pytest.skip(f"{name} does not import here: {type(e).__name__}: {e}")


def _transformers():
    return _optional("transformers")


def _timm():
    return _optional("timm")


def _torchvision():
    return _optional("torchvision")


def _hf(cls_name, config_name, **config):
    """A transformers model: (constructor, the library's own init on a built model)."""
    def build():
        tr = _transformers()
        return getattr(tr, cls_name)(getattr(tr, config_name)(**config))
    return build, lambda m: m.init_weights()


def _timm_resnet_init(m):
    """timm ResNet's init_weights covers its convolutions and last norms only; the other norms and
    the classifier keep what their constructors' reset_parameters gave: run those first."""
    for module in m.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    m.init_weights(zero_init_last=True)


VIT = {"img_size": 32, "patch_size": 8, "depth": 2, "embed_dim": 64, "num_heads": 4, "num_classes": 10}
MODELS = {
    "llama": _hf("LlamaForCausalLM", "LlamaConfig", vocab_size=128, hidden_size=32, intermediate_size=64,
                 num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64),
    "gpt2": _hf("GPT2LMHeadModel", "GPT2Config", vocab_size=128, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                bos_token_id=0, eos_token_id=0),
    "bert": _hf("BertForMaskedLM", "BertConfig", vocab_size=128, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=4, intermediate_size=64, max_position_embeddings=64),
    "t5": _hf("T5ForConditionalGeneration", "T5Config", vocab_size=128, d_model=32, d_kv=8, d_ff=64, num_layers=2,
              num_heads=4),
    "timm_vit_base_patch16_224": (lambda: _timm().create_model("vit_base_patch16_224", **VIT),
                                  lambda m: m.init_weights()),
    "timm_resnet50": (lambda: _timm().create_model("resnet50", num_classes=10), lambda m: _timm_resnet_init(m)),
    # torchvision's ResNet initializes in __init__ only: no entry point to run after to_empty
    "torchvision_resnet50": (lambda: _torchvision().models.resnet50(num_classes=10), None),
}


def library_own(name, seed=0):
    torch.manual_seed(seed)
    return MODELS[name][0]()


def plain_under_fast_init(name, torch_seed=1):
    torch.manual_seed(torch_seed)
    with fast_init(seed=0) as report:
        m = MODELS[name][0]()
    return m, report


def meta_then_own_init(name, torch_seed=1):
    build, own_init = MODELS[name]
    if own_init is None:
        pytest.skip(f"{name} has no init entry point to run after to_empty")
    with torch.device("meta"):
        m = build()
    m.to_empty(device="cpu")
    torch.manual_seed(torch_seed)
    with fast_init(m, seed=0) as report:
        own_init(m)
    return m, report


WAYS = {"plain": plain_under_fast_init, "meta": meta_then_own_init}


def matching(ours, theirs):
    """Names of the parameter tensors whose values follow the library's own law, and the others."""
    good, bad = [], []
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        a, b = p.detach().double().reshape(-1)[:SAMPLE], q.detach().double().reshape(-1)[:SAMPLE]
        if torch.all(b == b[0]):  # a constant of the library's
            ok = torch.equal(a, b)
        else:
            ok = stats.ks_2samp(a.numpy(), b.numpy()).pvalue > P_MIN
        (good if ok else bad).append(name)
    return good, bad


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_follows_the_library_s_own_law(name, way):
    theirs = library_own(name)
    ours, report = WAYS[way](name)
    good, bad = matching(ours, theirs)
    assert bad == [] and len(good) == len(list(theirs.parameters()))
    assert report.routed > 0 and report.passed == 0, str(report)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("name", MODELS)
def test_values_are_fastkaiming_s_whatever_torch_s_seed(name, way):
    a, _ = WAYS[way](name, torch_seed=1)
    b, _ = WAYS[way](name, torch_seed=2)
    theirs = library_own(name, seed=1)
    random = 0
    for (pname, p), q, r in zip(a.named_parameters(), b.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(p, q), pname
        random += not torch.all(p == p.reshape(-1)[0])
        assert torch.all(p == p.reshape(-1)[0]) or not torch.equal(p, r), pname  # not torch's values
    assert random > 0


@pytest.mark.parametrize("name", [n for n in MODELS if MODELS[n][1] is not None])
def test_buffers_equal_the_plain_constructor_s(name):
    theirs = library_own(name)
    ours, _ = meta_then_own_init(name)
    expected = dict(theirs.named_buffers())
    got = dict(ours.named_buffers())
    assert got.keys() == expected.keys()
    for bname, b in expected.items():
        assert torch.equal(got[bname], b), bname


def test_llama_parameters_take_the_streams_of_their_names():
    m, _ = meta_then_own_init("llama")
    emb = m.model.embed_tokens.weight
    expected = fk.normal_(torch.empty(emb.shape), 0.0, 0.02, seed=0, stream=fki.stream_for("model.embed_tokens.weight"))
    assert torch.equal(emb.detach(), expected)


@pytest.mark.parametrize("way", WAYS)
def test_gpt2_tied_embedding_is_one_tensor_with_the_embedding_law(way):
    m, _ = WAYS[way]("gpt2")
    assert m.lm_head.weight is m.transformer.wte.weight
    w = m.transformer.wte.weight.detach().double().reshape(-1).numpy()
    assert stats.kstest(w, stats.norm(0.0, 0.02).cdf).pvalue > P_MIN
    assert stats.kstest(w, stats.norm(0.0, 0.025).cdf).pvalue < P_MIN  # the test can tell


def test_gpt2_projections_have_the_scaled_std():
    # GPT-2's c_proj weights: N(0, (0.02 / sqrt(2 * n_layer))^2), the other weights N(0, 0.02^2)
    m, _ = meta_then_own_init("gpt2")
    for name, p in m.named_parameters():
        if name.endswith("weight") and p.dim() == 2:
            std = 0.02 / 2.0 if "c_proj" in name else 0.02
            w = p.detach().double().reshape(-1).numpy()
            assert stats.kstest(w, stats.norm(0.0, std).cdf).pvalue > P_MIN, name


@pytest.mark.parametrize("name", ["trunc_normal_", "trunc_normal_tf_"])
def test_timm_s_truncated_normals_are_one_fastkaiming_fill(name):
    timm_layers = _timm().layers
    t = torch.empty(64, 32)
    with fast_init(seed=5) as report:
        getattr(timm_layers, name)(t, std=0.02, a=-0.04, b=0.04)
    if name == "trunc_normal_":  # absolute bounds
        expected = fk.trunc_normal_(torch.empty(64, 32), 0.0, 0.02, -0.04, 0.04, seed=5)
    else:  # trunc_normal_tf_: N(0, 1) cut at [a, b], then scaled by std
        expected = fk.trunc_normal_(torch.empty(64, 32), 0.0, 1.0, -0.04, 0.04, seed=5).mul_(0.02)
    assert torch.equal(t, expected)
    assert (report.routed, report.passed) == (1, 0)
