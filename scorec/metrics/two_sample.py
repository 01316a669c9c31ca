"""Two-sample statistics on any vectors (2-D points, flattened images or features):
the energy distance and a classifier two-sample test (C2ST). numpy only, seeded."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["c2st", "energy_distance"]


def _mean_dist(a: np.ndarray, b: np.ndarray, same: bool, chunk: int = 1024) -> float:
    """Mean Euclidean distance over pairs (i in a, j in b); over i != j when `same` (b is a)."""
    total = 0.0
    for start in range(0, len(a), chunk):
        block = a[start:start + chunk]
        d2 = (block * block).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (block @ b.T)
        if same:  # the self-distances are 0; round-off would make them ~1e-8
            rows = np.arange(len(block))
            d2[rows, start + rows] = 0.0
        total += float(np.sqrt(np.maximum(d2, 0.0)).sum())
    return total / (len(a) * (len(a) - 1)) if same else total / (len(a) * len(b))


def energy_distance(x, y, max_points: int = 2000, seed: int = 0) -> float:
    """Székely's energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| (U-statistics for the
    within-set terms, so it is unbiased and ~0 for two samples of one distribution).
    Each set is subsampled (seeded) to at most max_points rows: O(max_points^2) work."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    rng = np.random.default_rng(seed)
    if len(x) > max_points:
        x = x[rng.choice(len(x), max_points, replace=False)]
    if len(y) > max_points:
        y = y[rng.choice(len(y), max_points, replace=False)]
    if min(len(x), len(y)) < 2:
        raise ValueError("energy_distance needs at least two points in each set")
    return 2.0 * _mean_dist(x, y, False) - _mean_dist(x, x, True) - _mean_dist(y, y, True)


def _binomial_upper_tail(successes: int, trials: int) -> float:
    """P(Bin(trials, 1/2) >= successes), exactly (log-space sums)."""
    if successes <= 0:
        return 1.0
    logs = [math.lgamma(trials + 1) - math.lgamma(i + 1) - math.lgamma(trials - i + 1) - trials * math.log(2)
            for i in range(successes, trials + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


def c2st(x, y, k: int = 5, max_points: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Classifier two-sample test (Lopez-Paz & Oquab 2017) with a k-nearest-neighbour classifier.

    Equal numbers of points of each set (at most max_points) are pooled, labelled by set and
    split in two halves at random; the classifier is fitted on one half (k-NN needs no training
    beyond storing it) and its accuracy measured on the other. Under the null (same
    distribution) the number of correct predictions is Binomial(n_test, 1/2), which gives the
    one-sided p-value. Accuracy 0.5 is indistinguishable; 1.0 is fully separable.
    Features are standardised with the pooled mean and sd so no coordinate dominates.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    rng = np.random.default_rng(seed)
    n = min(len(x), len(y), max_points)
    if n < 2 * k + 2:
        raise ValueError(f"c2st needs at least {2 * k + 2} points in each set")
    x = x[rng.choice(len(x), n, replace=False)]
    y = y[rng.choice(len(y), n, replace=False)]
    z = np.concatenate([x, y])
    z = (z - z.mean(0)) / np.where(z.std(0) > 0, z.std(0), 1.0)
    labels = np.concatenate([np.zeros(n, bool), np.ones(n, bool)])
    order = rng.permutation(2 * n)
    fit, test = order[: n], order[n:]
    zf, lf = z[fit], labels[fit]
    correct = 0
    for start in range(0, len(test), 1024):
        idx = test[start:start + 1024]
        zt = z[idx]
        d2 = (zt * zt).sum(1)[:, None] + (zf * zf).sum(1)[None, :] - 2.0 * (zt @ zf.T)
        nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]
        votes = lf[nearest].mean(axis=1)
        # ties (even k) broken towards "x": k is odd by default, so there are none
        correct += int(((votes > 0.5) == labels[idx]).sum())
    return correct / len(test), _binomial_upper_tail(correct, len(test))
