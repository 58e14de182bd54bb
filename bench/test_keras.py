"""Keras layer build: Dense(4096) on 8192 inputs (an 8192 x 4096 float32 kernel, 128 MiB), with
fastkaiming.keras.HeNormal against keras.initializers.HeNormal, on this process's Keras backend.
Target (issue 21, item 4): >= 5x per backend.

    KERAS_BACKEND=jax pytest bench/test_keras.py --benchmark-group-by=group --benchmark-columns=median,rounds
    python bench/test_keras.py          # every installed backend, one process each: medians and ratios

The build includes the bias (zeros) and waits for the kernel's value (jax dispatches
asynchronously); the previous round's layer is garbage-collected outside the timing. extra_info has the ratio to Keras' own, measured in the same run.
"""
import gc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import pytest

SHAPE = (8192, 4096)
IMPLS = ["keras", "fastkaiming"]  # keras first: the fastkaiming case divides by its median
_MEDIANS: dict[str, float] = {}


def build(initializer):
    import keras

    layer = keras.layers.Dense(SHAPE[1], kernel_initializer=initializer)
    layer.build((None, SHAPE[0]))
    value = layer.kernel.value
    if hasattr(value, "block_until_ready"):
        value.block_until_ready()
    return layer


@pytest.mark.parametrize("impl", IMPLS)
def test_dense_build(benchmark, impl):
    keras = pytest.importorskip("keras")
    fkk = pytest.importorskip("fastkaiming.keras")
    backend = keras.backend.backend()
    benchmark.group = f"keras-dense-build-{SHAPE[0]}x{SHAPE[1]}-float32-{backend}"
    init = fkk.HeNormal(seed=0) if impl == "fastkaiming" else keras.initializers.HeNormal(seed=0)
    rounds = 1 if benchmark.disabled else 7

    def fresh():
        gc.collect()  # Keras layers live in reference cycles: free the last round's 128 MiB untimed
        return (init,), {}

    benchmark.pedantic(build, setup=fresh, rounds=rounds, warmup_rounds=1)
    if benchmark.disabled:
        return
    _MEDIANS[impl] = median = benchmark.stats.stats.median
    benchmark.extra_info["backend"] = backend
    if impl == "fastkaiming" and "keras" in _MEDIANS:
        benchmark.extra_info["speedup_vs_keras"] = _MEDIANS["keras"] / median


def threads():
    """The thread counts each library uses here."""
    import fastkaiming as fk

    found = {"cpus (affinity)": len(os.sched_getaffinity(0)), "fastkaiming": fk.runtime_info()["threads"],
             "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}  # fmt: skip
    if importlib.util.find_spec("torch"):
        import torch

        found["torch intra-op"] = torch.get_num_threads()
    return found


def main() -> None:
    """Run this file under every installed backend, one process each, and print medians and ratios."""
    import platform

    backends = [b for b in ("jax", "torch", "numpy", "tensorflow") if b == "numpy" or importlib.util.find_spec(b)]
    print(f"{platform.processor() or platform.machine()}, {threads()}")
    print(f"{'backend':<11} {'Keras HeNormal':>15} {'fastkaiming':>12} {'ratio':>6}   (min: Keras, fastkaiming)")
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "bench.json")
            env = dict(os.environ, KERAS_BACKEND=backend)
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                                   f"--benchmark-json={out}"], env=env, capture_output=True, text=True)  # fmt: skip
            if done.returncode != 0:
                print(f"{backend:<11} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
                continue
            with open(out) as f:
                stats = {b["params"]["impl"]: b["stats"] for b in json.load(f)["benchmarks"]}
        keras, fast = stats["keras"], stats["fastkaiming"]
        print(f"{backend:<11} {keras['median'] * 1e3:12.1f} ms {fast['median'] * 1e3:9.1f} ms "
              f"{keras['median'] / fast['median']:5.1f}x   ({keras['min'] * 1e3:.0f} ms, {fast['min'] * 1e3:.0f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
