"""He et al. (2015), Figure 3 in miniature: a 30-layer ReLU network trained on scikit-learn's
digits converges with He initialization and stalls with Xavier's.

    python examples/train_digits.py [--out FOLDER] [--seed N]   # the plot: FOLDER/train_digits.png

FOLDER defaults to the script's own folder (examples/; `--out docs` refreshes the plot that
docs/concepts.md shows);
it must exist, and is checked before the training starts.

Needs torch and scikit-learn (the 8x8 digits ship with it: nothing is downloaded); the plot needs
matplotlib (without it the losses are printed and no PNG is written). The same network, data,
batches and optimizer for both runs; only the initializer of the weights differs
(fastkaiming.torch.kaiming_normal_ with fan_in, relu, against xavier_normal_). Biases start at 0.
`seed` (default 0) seeds both the weights (fastkaiming) and the batch order (torch). The losses
also depend on torch's CPU kernels (summation order), so they differ slightly between machines.
"""
from __future__ import annotations

import argparse
import pathlib

import numpy as np
import torch
from sklearn.datasets import load_digits

import fastkaiming.torch as init

DEPTH, WIDTH, EPOCHS, BATCH, LR = 30, 128, 30, 64, 0.003


def network(initializer: str, seed: int = 0) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    width_in = 64
    for _ in range(DEPTH - 1):
        layers += [torch.nn.Linear(width_in, WIDTH), torch.nn.ReLU()]
        width_in = WIDTH
    layers.append(torch.nn.Linear(width_in, 10))
    net = torch.nn.Sequential(*layers)
    for i, layer in enumerate(m for m in net if isinstance(m, torch.nn.Linear)):
        if initializer == "he":
            init.kaiming_normal_(layer.weight, nonlinearity="relu", seed=seed, stream=i)
        else:
            init.xavier_normal_(layer.weight, seed=seed, stream=i)
        torch.nn.init.zeros_(layer.bias)
    return net


def train(initializer: str, epochs: int = EPOCHS, seed: int = 0) -> list[float]:
    """Training loss per epoch."""
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    y = torch.tensor(digits.target)
    net = network(initializer, seed)
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9)
    order = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=order)
        total = 0.0
        for start in range(0, len(x), BATCH):
            idx = perm[start : start + BATCH]
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(x))
    return losses


def plot(curves: dict[str, list[float]], path: str) -> None:
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path} (pip install matplotlib)")
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, losses in curves.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, marker="o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title(f"{DEPTH}-layer ReLU network on scikit-learn's digits")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def arguments(argv: list[str] | None = None) -> tuple[pathlib.Path, int]:
    """(where the plot goes, seed); the --out folder is checked to exist now, not after training."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", metavar="FOLDER", default=str(pathlib.Path(__file__).resolve().parent),
                        help="folder for train_digits.png (default: the script's folder)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not pathlib.Path(args.out).is_dir():
        parser.error(f"--out {args.out!r} is not an existing folder")
    return pathlib.Path(args.out) / "train_digits.png", args.seed


def main(argv: list[str] | None = None) -> None:
    png, seed = arguments(argv)
    torch.set_num_threads(2)
    curves = {"He (kaiming_normal_)": train("he", seed=seed),
              "Xavier (xavier_normal_)": train("xavier", seed=seed)}  # fmt: skip
    for name, losses in curves.items():
        print(f"{name:24s} loss: epoch 1 {losses[0]:.3f}, epoch {len(losses)} {losses[-1]:.3f}")
    plot(curves, str(png))


if __name__ == "__main__":
    main()
