"""Re-initializing a whole model: fastkaiming.torch.init_module_ against reset_parameters().

Two regimes, each timed against calling reset_parameters() on every layer in the same run:

- large: a stack of Linear(8192, 8192) layers, 1.07 B parameters (4.3 GB of float32), built on
  the meta device and materialized on the CPU uninitialized (the fill rate decides);
- many small parameters: 10,000 of them, where the per-parameter cost decides. "norms" is
  5,000 LayerNorm(64) (10,000 weight and bias vectors); "blocks" is 2,500 x (Linear(32, 32),
  LayerNorm(32)) (2,500 small Linear weights, 2,500 Linear biases, 5,000 LayerNorm vectors).
  Target: init_module_ at least 3x faster than the reset loop. "fastkaiming-rules" is the same
  call with a policy of one's own (RULES: name patterns and class rules on every parameter). init_module_ checks each tensor
  once (about 2-3 us of torch attribute reads for a random fill, 0.5 us for a constant one, on
  a shared Zen 4) and writes the random fills of CPU tensors in one binding call; the walk, the
  checks and the stream names' hashes are what is left per parameter.

Smoke mode (--benchmark-disable) uses tiny models.

    pytest bench/test_init_module.py --benchmark-group-by=group --benchmark-columns=median
"""
import functools

import pytest

torch = pytest.importorskip("torch")
fki = pytest.importorskip("fastkaiming.torch")


def _model(width, depth):
    with torch.device("meta"):
        m = torch.nn.Sequential(*(torch.nn.Linear(width, width) for _ in range(depth)))
    return m.to_empty(device="cpu")


def _reset_parameters(model):
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()


# A policy of one's own (init_module_'s rules=): GPT-2 style, for the "rules" rows
RULES = {torch.nn.Linear: functools.partial(fki.normal_, std=0.02), "*.bias": 0, torch.nn.LayerNorm: {"weight": 1}}


def _run(benchmark, model, impl, group, rounds):
    params = sum(1 for _ in model.parameters())
    elements = sum(p.numel() for p in model.parameters())
    benchmark.group = group
    fn = {"fastkaiming": lambda: fki.init_module_(model, seed=0),
          "fastkaiming-rules": lambda: fki.init_module_(model, seed=0, rules=RULES),
          "torch": lambda: _reset_parameters(model)}[impl]  # fmt: skip
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    if not benchmark.disabled:
        benchmark.extra_info["params"] = params
        benchmark.extra_info["elements"] = elements
        benchmark.extra_info["us_per_param"] = benchmark.stats.stats.median / params * 1e6


@pytest.mark.parametrize("impl", ["fastkaiming", "torch"])
def test_init_module(benchmark, impl):
    width, depth = (256, 4) if benchmark.disabled else (8192, 16)
    model = _model(width, depth)
    params = sum(p.numel() for p in model.parameters())
    _run(benchmark, model, impl, f"init_module-{params / 1e9:.2f}B-params", rounds=3)
    if not benchmark.disabled:
        benchmark.extra_info["Gparams_per_s"] = params / benchmark.stats.stats.median / 1e9


def _small(kind, count):
    """`count` small parameters: LayerNorms only, or (Linear, LayerNorm) blocks."""
    if kind == "norms":
        return torch.nn.Sequential(*(torch.nn.LayerNorm(64) for _ in range(count // 2)))
    blocks = (torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.LayerNorm(32)) for _ in range(count // 4))
    return torch.nn.Sequential(*blocks)


@pytest.mark.parametrize("kind", ["norms", "blocks"])
@pytest.mark.parametrize("impl", ["fastkaiming", "fastkaiming-rules", "torch"])
def test_init_module_small_parameters(benchmark, impl, kind):
    count = 40 if benchmark.disabled else 10_000
    _run(benchmark, _small(kind, count), impl, f"init_module-{count}-small-params-{kind}", rounds=11)
