"""A model library's own initialization under fastkaiming.torch.fast_init, against without.

- llama: a 0.47 B-parameter LlamaForCausalLM (hidden 1024, 24 layers, MLP 4096, vocab 32000,
  untied, float32). "torch": ``LlamaForCausalLM(config)``; "fast_init": the same constructor
  under ``fast_init(seed=0)`` (target >= 3x); "meta+init_weights": built on the meta device,
  ``to_empty(device="cpu")``, ``init_weights()`` under ``fast_init(model, seed=0)`` (target >= 5x
  the plain constructor).
- vit: ``timm.create_model("vit_base_patch16_224")`` with and without fast_init (target >= 3x);
  skipped where timm does not import.

Each at 1 and 2 threads (torch.set_num_threads and fast_init's threads=). The ratios against
"torch" of the same group are printed at the end of the run.

Smoke mode (--benchmark-disable) uses tiny configs.

    HF_HUB_OFFLINE=1 pytest bench/test_fast_init.py --benchmark-group-by=group --benchmark-columns=median
"""
import gc
import os

import pytest

torch = pytest.importorskip("torch")
from fastkaiming.torch import fast_init  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
LLAMA = {"vocab_size": 32000, "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
         "num_attention_heads": 16, "num_key_value_heads": 16, "tie_word_embeddings": False}
TINY = {"vocab_size": 128, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "tie_word_embeddings": False}
MEDIANS = {}  # (group, impl) -> median seconds


@pytest.fixture(scope="module", autouse=True)
def ratios(request):
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # past pytest's output capture
        reporter.write_line("")
        for (group, impl), median in sorted(MEDIANS.items()):
            base = MEDIANS.get((group, "torch"))
            if impl != "torch" and base is not None:
                reporter.write_line(f"{group:40s} {impl:18s} {median:8.3f} s  {base / median:5.2f}x "
                                    f"torch's {base:.3f} s")


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    saved = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(saved)


def _collect():
    """Free the previous round's model (reference cycles) before the next round starts."""
    gc.collect()


def _time(benchmark, group, impl, fn, rounds):
    benchmark.group = group
    benchmark.pedantic(fn, setup=_collect, rounds=rounds, iterations=1, warmup_rounds=1)
    if not benchmark.disabled:
        MEDIANS[(group, impl)] = benchmark.stats.stats.median


@pytest.mark.parametrize("impl", ["torch", "fast_init", "meta+init_weights"])
def test_llama(benchmark, impl, threads):
    tr = pytest.importorskip("transformers")
    config = tr.LlamaConfig(**(TINY if benchmark.disabled else LLAMA))

    def plain():
        return tr.LlamaForCausalLM(config)

    def under_fast_init():
        with fast_init(seed=0, threads=threads):
            return tr.LlamaForCausalLM(config)

    def meta_then_init():
        with torch.device("meta"):
            model = tr.LlamaForCausalLM(config)
        model.to_empty(device="cpu")
        with fast_init(model, seed=0, threads=threads):
            model.init_weights()
        return model

    fn = {"torch": plain, "fast_init": under_fast_init, "meta+init_weights": meta_then_init}[impl]
    _time(benchmark, f"llama-0.47B-{threads}thread", impl, fn, rounds=5)


@pytest.mark.parametrize("impl", ["torch", "fast_init"])
def test_vit_base(benchmark, impl, threads):
    timm = pytest.importorskip("timm")
    kwargs = {"img_size": 32, "depth": 2} if benchmark.disabled else {}

    def plain():
        return timm.create_model("vit_base_patch16_224", **kwargs)

    def under_fast_init():
        with fast_init(seed=0, threads=threads):
            return timm.create_model("vit_base_patch16_224", **kwargs)

    _time(benchmark, f"timm-vit_base_patch16_224-{threads}thread", impl,
          plain if impl == "torch" else under_fast_init, rounds=5)
