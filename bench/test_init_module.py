"""Re-initializing a whole model: fastkaiming.torch.init_module_ against reset_parameters().

A stack of Linear(8192, 8192) layers, 1.07 B parameters (4.3 GB of float32), built on the
meta device and materialized on the CPU uninitialized; smoke mode uses a tiny stack.

    pytest bench/test_init_module.py --benchmark-group-by=group --benchmark-columns=median
"""
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


@pytest.mark.parametrize("impl", ["fastkaiming", "torch"])
def test_init_module(benchmark, impl):
    width, depth = (256, 4) if benchmark.disabled else (8192, 16)
    model = _model(width, depth)
    params = sum(p.numel() for p in model.parameters())
    benchmark.group = f"init_module-{params / 1e9:.2f}B-params"
    fn = (lambda: fki.init_module_(model, seed=0)) if impl == "fastkaiming" else (lambda: _reset_parameters(model))
    benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)
    if not benchmark.disabled:
        benchmark.extra_info["params"] = params
        benchmark.extra_info["Gparams_per_s"] = params / benchmark.stats.stats.median / 1e9
