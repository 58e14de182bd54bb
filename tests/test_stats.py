"""Seeded statistical checks. Fixed seeds make every outcome fixed: these cannot flake.

Thresholds: KS p > 1e-4; mean and variance within 5 standard errors. Long statistical QA
(large-sample tails, batteries) belongs in tools/, not here.
"""
import math

import numpy as np
import pytest

import fastkaiming as fk

stats = pytest.importorskip("scipy.stats")

DTYPES = ["float16", "float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed,stream", [(0, 0), (12345, 7), (2**64 - 1, 2**63)])
def test_normal_ks(dtype, seed, stream):
    x = fk.normal_(np.empty(200_000, dtype), 1.5, 0.25, seed=seed, stream=stream)
    assert stats.kstest(x.astype(np.float64), "norm", args=(1.5, 0.25)).pvalue > 1e-4


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed,stream", [(0, 0), (12345, 7), (2**64 - 1, 2**63)])
def test_uniform_ks(dtype, seed, stream):
    x = fk.uniform_(np.empty(200_000, dtype), -2.0, 3.0, seed=seed, stream=stream)
    assert stats.kstest(x.astype(np.float64), "uniform", args=(-2.0, 5.0)).pvalue > 1e-4


@pytest.mark.parametrize("dtype", DTYPES)
def test_kaiming_ks(dtype):
    shape = (512, 256, 3)
    std = math.sqrt(2.0) / math.sqrt(256 * 3)
    w = fk.kaiming_normal_(np.empty(shape, dtype), seed=1)
    assert stats.kstest(w.ravel().astype(np.float64), "norm", args=(0, std)).pvalue > 1e-4
    bound = math.sqrt(3.0) * std
    w = fk.kaiming_uniform_(np.empty(shape, dtype), seed=1)
    assert stats.kstest(w.ravel().astype(np.float64), "uniform", args=(-bound, 2 * bound)).pvalue > 1e-4


N = 10**7


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_moments(dtype):
    mean, std = -0.5, 2.0
    x = fk.normal_(np.empty(N, dtype), mean, std, seed=99).astype(np.float64)
    assert abs(x.mean() - mean) < 5 * std / math.sqrt(N)
    # Var(s^2) = 2 sigma^4 / n for a normal sample
    assert abs(x.var() - std**2) < 5 * std**2 * math.sqrt(2.0 / N)


@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform_moments_and_bounds(dtype):
    bound = 0.75
    x = fk.uniform_(np.empty(N, dtype), -bound, bound, seed=99)
    assert x.min() >= -bound and x.max() <= bound
    assert x.max() > bound * (1 - 1e-3) and x.min() < -bound * (1 - 1e-3)
    x = x.astype(np.float64)
    var = bound**2 / 3
    assert abs(x.mean()) < 5 * math.sqrt(var / N)
    # Var(s^2) = (mu4 - sigma^4) / n with mu4 = bound^4 / 5
    assert abs(x.var() - var) < 5 * math.sqrt((bound**4 / 5 - var**2) / N)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kaiming_uniform_never_leaves_its_bound(dtype):
    fan_in = 3  # a large bound, so the grid of float16/float32 values near it is coarse
    bound = np.asarray(math.sqrt(3.0) * math.sqrt(2.0) / math.sqrt(fan_in), dtype)
    w = fk.kaiming_uniform_(np.empty((N // fan_in, fan_in), dtype), seed=5)
    assert np.abs(w).max() <= bound


def test_normal_tail_limit_float32():
    # r = sqrt(-2 log u) with u >= 2^-32: |z| <= sqrt(64 log 2) = 6.6604 (fastkaiming.h)
    x = fk.normal_(np.empty(N, np.float32), seed=3)
    assert np.abs(x).max() <= math.sqrt(64 * math.log(2)) * (1 + 1e-6)
    assert np.isfinite(x).all()
