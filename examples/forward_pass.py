"""He et al. (2015), section 2.2, reproduced: how activations scale through a deep ReLU net.

A 50-layer ReLU network of width 1024, weights by fastkaiming with He (kaiming_normal_, fan_in),
Xavier (xavier_normal_) and N(0, 0.01^2) initialization. For pre-activations y_l = W_l x_l,
x_{l+1} = relu(y_l), eq. (10) of the paper predicts

    E[y_l^2] / E[y_{l-1}^2] = (1/2) n Var(w) = 1 (He), 1/2 (Xavier), 0.0512 (N(0, 0.01^2)).

    python examples/forward_pass.py [--out FOLDER]   # the plot: FOLDER/forward_pass.png

FOLDER defaults to the script's own folder (examples/; `--out docs` refreshes the plot that
docs/concepts.md shows);
it must exist, and is checked before the work starts.

Takes about 20 s of CPU time; tests/test_examples.py checks the ratios. The plot needs
matplotlib: without it the ratios are printed and no PNG is written.
"""
from __future__ import annotations

import argparse
import pathlib

import numpy as np

import fastkaiming as fk

WIDTH, DEPTH, BATCH = 1024, 50, 256

INITS = {
    "He (kaiming_normal_)": lambda w, seed, stream: fk.kaiming_normal_(
        w, nonlinearity="relu", seed=seed, stream=stream
    ),
    "Xavier (xavier_normal_)": lambda w, seed, stream: fk.xavier_normal_(w, seed=seed, stream=stream),
    "N(0, 0.01^2)": lambda w, seed, stream: fk.normal_(w, 0.0, 0.01, seed=seed, stream=stream),
}
# (1/2) n Var(w) with n = 1024: He 2/n, Xavier 2/(n + n), N(0, 0.01^2)
PREDICTED_RATIO = {
    "He (kaiming_normal_)": 1.0,
    "Xavier (xavier_normal_)": 0.5,
    "N(0, 0.01^2)": 0.5 * WIDTH * 1e-4,
}


def second_moments(init: str, seed: int, width: int = WIDTH, depth: int = DEPTH,
                   batch: int = BATCH) -> np.ndarray:  # fmt: skip
    """E[y_l^2] for l = 1..depth: the mean square pre-activation of each layer (float64)."""
    x = fk.normal((batch, width), "float64", seed=seed, stream=2**63)  # unit-variance inputs
    w = np.empty((width, width), np.float64)  # (out, in), PyTorch's layout
    moments = np.empty(depth)
    for layer in range(depth):
        INITS[init](w, seed, layer)
        y = x @ w.T
        moments[layer] = np.mean(y * y)
        x = np.maximum(y, 0.0)
    return moments


def mean_ratio(init: str, seeds: range, **kw) -> float:  # type: ignore[no-untyped-def]
    """E[y_l^2] / E[y_{l-1}^2], averaged over the layers of several networks."""
    ratios = [m[1:] / m[:-1] for m in (second_moments(init, s, **kw) for s in seeds)]
    return float(np.mean(ratios))


def plot(path: str) -> None:
    """The std of the pre-activations per layer, measured and predicted, as a PNG (matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path} (pip install matplotlib)")
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    layers = np.arange(1, DEPTH + 1)
    for (name, ratio), color in zip(PREDICTED_RATIO.items(), ("C0", "C1", "C2"), strict=True):
        std = np.sqrt(second_moments(name, seed=0))
        ax.plot(layers, std, "o", ms=3, color=color, label=f"{name}: measured")
        ax.plot(layers, std[0] * np.sqrt(ratio) ** (layers - 1), "-", color=color, alpha=0.6,
                label=f"{name}: eq. (10), ratio {ratio:g}")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("std of pre-activations")
    ax.set_title(f"{DEPTH}-layer ReLU network, width {WIDTH} (He et al. 2015, eq. 10)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def png_path(argv: list[str] | None = None) -> pathlib.Path:
    """Where the plot goes: --out FOLDER (default: this script's folder), checked to exist now."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", metavar="FOLDER", default=str(pathlib.Path(__file__).resolve().parent),
                        help="folder for forward_pass.png (default: the script's folder)")  # fmt: skip
    folder = pathlib.Path(parser.parse_args(argv).out)
    if not folder.is_dir():
        parser.error(f"--out {str(folder)!r} is not an existing folder")
    return folder / "forward_pass.png"


def main(argv: list[str] | None = None) -> None:
    path = png_path(argv)
    for name, predicted in PREDICTED_RATIO.items():
        print(f"{name:26s} mean ratio {mean_ratio(name, range(3)):.4f}   predicted {predicted:.4f}")
    plot(str(path))


if __name__ == "__main__":
    main()
