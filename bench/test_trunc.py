"""pytest-benchmark groups for the truncated normal against the Box-Muller normal and torch.

    FASTKAIMING_ISA=avx512 pytest bench/test_trunc.py --benchmark-group-by=group \
        --benchmark-columns=median,ops
    pytest bench/test_trunc.py --benchmark-disable      # smoke mode: small cases once, untimed

Group trunc-<dtype>-<size>-<threads>t: normal_ (the baseline), trunc_normal_ with +-2 std,
he_normal_ (Keras) and trunc_normal_(std=0.02) with torch's default bounds, same kernel and
threads. Group trunc-vit-base: the Linear weights of a ViT-Base (12 blocks of 2304x768, 768x768,
3072x768, 768x3072, float32, one thread) against torch.nn.init.trunc_normal_ and torch's normal_.
bench/trunc_ratios.py prints the same comparisons as ratios.
"""
import numpy as np
import pytest

import fastkaiming as fk

SIZES = {"1MiB": 1 << 20, "256MiB": 256 << 20, "1GiB": 1 << 30}
FILLS = {
    "normal_": lambda b, th: fk.normal_(b, 0.0, 0.02, seed=0, threads=th, dtype=_dt(b)),
    "trunc_normal_+-2std": lambda b, th: fk.trunc_normal_(b, 0.0, 1.0, -2.0, 2.0, seed=0, threads=th, dtype=_dt(b)),
    "he_normal_": lambda b, th: fk.he_normal_(b, seed=0, threads=th, fan_in=768, dtype=_dt(b)),
    "trunc_normal_std0.02": lambda b, th: fk.trunc_normal_(b, 0.0, 0.02, seed=0, threads=th, dtype=_dt(b)),
}


def _dt(buf):
    return "bfloat16" if isinstance(buf, bytearray) else None


def _buffer(nbytes, dtype):
    if dtype == "bfloat16":
        return bytearray(nbytes)
    buf = np.empty(nbytes // np.dtype(dtype).itemsize, dtype)
    buf.fill(0)  # prefault
    return buf


def _run(benchmark, fn, nbytes, group):
    benchmark.group = group
    if nbytes >= 16 << 20:
        benchmark.pedantic(fn, rounds=5 if nbytes < 1 << 30 else 3, iterations=1, warmup_rounds=1)
    else:
        benchmark(fn)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
@pytest.mark.parametrize("fill", FILLS)
def test_trunc(benchmark, fill, dtype, size, threads):
    if benchmark.disabled and SIZES[size] > 64 << 20:
        pytest.skip("smoke mode: buffers above 64 MiB only when timing")
    buf = _buffer(SIZES[size], dtype)
    _run(benchmark, lambda: FILLS[fill](buf, threads), SIZES[size], f"trunc-{dtype}-{size}-{threads}t")


VIT_SHAPES = [(2304, 768), (768, 768), (3072, 768), (768, 3072)] * 12


@pytest.mark.parametrize("impl", ["fastkaiming", "torch.nn.init.trunc_normal_", "torch normal_"])
def test_vit_base_linear(benchmark, impl):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    ws = [torch.empty(s) for s in VIT_SHAPES]

    def run():
        for w in ws:
            if impl == "fastkaiming":
                fk.trunc_normal_(w, std=0.02, seed=0, threads=1)
            elif impl == "torch normal_":
                w.normal_(0.0, 0.02)
            else:
                torch.nn.init.trunc_normal_(w, std=0.02)

    _run(benchmark, run, 64 << 20, "trunc-vit-base")
