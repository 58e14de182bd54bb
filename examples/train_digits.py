"""He et al. (2015), Figure 3 in miniature: a 30-layer ReLU network trained on scikit-learn's
digits converges with He initialization and stalls with Xavier's.

    python examples/train_digits.py [PNG]     # the plot, default docs/train_digits.png

Needs torch and scikit-learn (the 8x8 digits ship with it: nothing is downloaded). The same
network, data, batches and optimizer for both runs; only the initializer of the weights differs
(fastkaiming.torch.kaiming_normal_ with fan_in, relu, against xavier_normal_). Biases start at 0.
"""
from __future__ import annotations

import sys

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


def train(initializer: str, epochs: int = EPOCHS) -> list[float]:
    """Training loss per epoch."""
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    y = torch.tensor(digits.target)
    net = network(initializer)
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9)
    order = torch.Generator().manual_seed(0)
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
    import matplotlib

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


if __name__ == "__main__":
    torch.set_num_threads(2)
    curves = {"He (kaiming_normal_)": train("he"), "Xavier (xavier_normal_)": train("xavier")}
    for name, losses in curves.items():
        print(f"{name:24s} loss: epoch 1 {losses[0]:.3f}, epoch {len(losses)} {losses[-1]:.3f}")
    plot(curves, sys.argv[1] if len(sys.argv) > 1 else "docs/train_digits.png")
