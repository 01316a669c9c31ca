"""Tests for scorec.metrics' point distances and scorec.run.plots.

Statistical checks use fixed seeds, so they are deterministic; the tolerances
are still derived from the estimators' standard errors so that a failure means
a real bug rather than an unlucky draw.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from scorec.metrics import mmd_rbf, mode_shares, sliced_wasserstein, total_variation
from scorec.metrics.points import _mmd2_batch
from scorec.run.plots import plot_loss, plot_samples

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _w1_1d_bruteforce(a: np.ndarray, b: np.ndarray) -> float:
    """Exact 1-D W1 for unequal sizes by repetition.

    Repeating each of the n points of a m times and each of the m points of b
    n times leaves both empirical distributions unchanged and makes the sizes
    equal (n*m), where W1 is the mean |sort - sort|.
    """
    a_rep = np.repeat(np.sort(a), len(b))
    b_rep = np.repeat(np.sort(b), len(a))
    return float(np.mean(np.abs(a_rep - b_rep)))


# --------------------------------------------------------------------------
# Sliced Wasserstein
# --------------------------------------------------------------------------


def test_swd_closed_form_shifted_gaussian_2d():
    """SW1(N(0,I), N(mu,I)) = E_theta |theta . mu| = |mu| * 2/pi in 2-D.

    Each projection is N(0,1) vs N(theta.mu, 1), whose W1 is |theta.mu|; with
    theta uniform on the circle E|cos phi| = 2/pi. Error budget, |mu| = 5:
    - directions: sd(|cos phi|) = sqrt(1/2 - 4/pi^2) = 0.308, so the Monte
      Carlo SE over 2000 directions is 5 * 0.308 / sqrt(2000) = 0.034;
    - finite n = 20000: per direction the projected W1 is off by about the
      projected mean difference, sd sqrt(2/n) = 0.010, plus an O(1/sqrt(n))
      positive bias from the few directions with theta.mu ~ 0.
    Tolerance 4 * 0.034 + 4 * 0.010 = 0.18 (~5.5 % of 3.18).
    """
    n, mu = 20_000, np.array([3.0, 4.0])
    x = _rng(1).standard_normal((n, 2))
    y = _rng(2).standard_normal((n, 2)) + mu
    expected = np.linalg.norm(mu) * 2.0 / math.pi
    got = sliced_wasserstein(x, y, n_projections=2000, seed=0)
    assert abs(got - expected) < 0.18, (got, expected)


def test_swd_1d_equals_exact_w1():
    """In 1-D every unit direction is +-1, so SW1 is exactly the 1-D W1."""
    a = _rng(3).standard_normal(500)
    b = _rng(4).exponential(size=500)
    exact = float(np.mean(np.abs(np.sort(a) - np.sort(b))))
    assert sliced_wasserstein(a[:, None], b[:, None], n_projections=16) == pytest.approx(
        exact, rel=1e-12)


def test_swd_unequal_sizes_1d_against_bruteforce():
    for n, m in [(7, 3), (6, 10), (13, 29), (1, 5)]:
        a = _rng(n).standard_normal(n)
        b = _rng(100 + m).standard_normal(m) * 2 + 1
        got = sliced_wasserstein(a[:, None], b[:, None], n_projections=4)
        assert got == pytest.approx(_w1_1d_bruteforce(a, b), rel=1e-12), (n, m)


def test_swd_unequal_sizes_invariant_to_repetition():
    """Repeating points does not change an empirical distribution, so with the
    same directions (same seed) SW must not change when we equalise sizes."""
    x = _rng(5).standard_normal((12, 3))
    y = _rng(6).standard_normal((8, 3)) + 0.7
    direct = sliced_wasserstein(x, y, n_projections=64, seed=9)
    equalised = sliced_wasserstein(np.repeat(x, 8, axis=0), np.repeat(y, 12, axis=0),
                                   n_projections=64, seed=9)
    assert direct == pytest.approx(equalised, rel=1e-12)


def test_swd_symmetric_zero_on_identical_and_deterministic():
    x = _rng(7).standard_normal((300, 4))
    y = _rng(8).standard_normal((200, 4)) * 1.5
    assert sliced_wasserstein(x, y, seed=3) == pytest.approx(
        sliced_wasserstein(y, x, seed=3), rel=1e-12)
    assert sliced_wasserstein(x, x.copy()) == 0.0
    assert sliced_wasserstein(x, y, seed=3) == sliced_wasserstein(x, y, seed=3)


def test_swd_flattens_image_shaped_inputs():
    x = _rng(9).standard_normal((50, 2, 3, 3))
    y = _rng(10).standard_normal((40, 2, 3, 3))
    assert sliced_wasserstein(x, y, seed=1) == pytest.approx(
        sliced_wasserstein(x.reshape(50, -1), y.reshape(40, -1), seed=1))


# --------------------------------------------------------------------------
# MMD
# --------------------------------------------------------------------------


def _mmd2_direct(x: np.ndarray, y: np.ndarray) -> float:
    """Textbook O(n^2) double loops: unbiased MMD^2, median-heuristic RBF."""
    pooled = np.concatenate([x, y])
    dists = [np.linalg.norm(a - b) for a, b in itertools.combinations(pooled, 2)]
    h = float(np.median(dists))

    def k(a, b):
        return math.exp(-float(np.sum((a - b) ** 2)) / (2 * h * h))

    n, m = len(x), len(y)
    s_xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    s_yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    s_xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    return s_xx / (n * (n - 1)) + s_yy / (m * (m - 1)) - 2 * s_xy / (n * m)


def test_mmd_matches_direct_double_loop():
    x = _rng(11).standard_normal((7, 2))
    y = _rng(12).standard_normal((5, 2)) + 0.3
    got, _ = mmd_rbf(x, y, n_permutations=0)
    assert got == pytest.approx(_mmd2_direct(x, y), rel=1e-10, abs=1e-12)


def test_mmd_batched_labelings_match_direct_formula():
    """The vectorised permutation statistic equals the formula per labeling."""
    rng = _rng(13)
    z = rng.standard_normal((9, 2))
    labels = np.zeros((9, 5), dtype=bool)
    for p in range(5):
        labels[rng.permutation(9)[:4], p] = True
    d2 = ((z[:, None] - z[None]) ** 2).sum(-1)
    h = np.median(np.sqrt(d2[np.triu_indices(9, 1)]))
    k = np.exp(-d2 / (2 * h * h))
    np.fill_diagonal(k, 0.0)
    batched = _mmd2_batch(k, labels)
    for p in range(5):
        xs, ys = z[labels[:, p]], z[~labels[:, p]]
        assert batched[p] == pytest.approx(_mmd2_direct(xs, ys), rel=1e-10, abs=1e-12)


def test_mmd_same_distribution_not_rejected():
    x = _rng(14).standard_normal((1000, 2))
    y = _rng(15).standard_normal((1000, 2))
    mmd2, p = mmd_rbf(x, y, seed=0)
    # Null sd of unbiased MMD^2 here is ~5e-4 (measured over seeds); 3e-3 is ~6 sd.
    assert abs(mmd2) < 3e-3
    assert p > 0.01


def test_mmd_shifted_distribution_rejected():
    x = _rng(16).standard_normal((1000, 2))
    y = _rng(17).standard_normal((1000, 2)) + 0.5
    mmd2, p = mmd_rbf(x, y, seed=0)
    # Observed values over seeds are 0.05-0.09, i.e. ~100 null sds.
    assert mmd2 > 0.02
    assert p <= 0.01


def test_mmd_unbiased_under_null():
    """Mean over independent null repetitions is within 3 SE of 0.

    (Exact unbiasedness holds even with the data-dependent bandwidth: h is a
    symmetric function of the pooled sample and, given the pool, E over
    labelings of the unbiased statistic is 0.)
    """
    stats = []
    for rep in range(400):
        rng = _rng(1000 + rep)
        stats.append(mmd_rbf(rng.standard_normal((20, 2)), rng.standard_normal((15, 2)),
                             n_permutations=0)[0])
    stats = np.array(stats)
    se = stats.std(ddof=1) / math.sqrt(len(stats))
    assert abs(stats.mean()) < 3 * se, (stats.mean(), se)


def test_mmd_subsampling_and_determinism():
    x = _rng(18).standard_normal((300, 3))
    y = _rng(19).standard_normal((250, 3))
    a = mmd_rbf(x, y, n_permutations=50, max_points=100, seed=4)
    assert a == mmd_rbf(x, y, n_permutations=50, max_points=100, seed=4)
    assert 0 < a[1] <= 1
    # p-values live on the grid k / (1 + n_permutations)
    assert (a[1] * 51) == pytest.approx(round(a[1] * 51))


# --------------------------------------------------------------------------
# Mode shares, total variation, registry
# --------------------------------------------------------------------------


def test_mode_shares_constructed():
    means = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = np.concatenate([
        np.tile(means[0], (5, 1)) + 0.1,
        np.tile(means[1], (3, 1)) - 0.2,
        np.tile(means[2], (2, 1)),
    ])
    np.testing.assert_allclose(mode_shares(x, means), [0.5, 0.3, 0.2])
    # An empty mode gets share 0 and shares still sum to 1.
    shares = mode_shares(np.array([[9.0, 1.0], [11.0, -1.0]]), means)
    np.testing.assert_allclose(shares, [0.0, 1.0, 0.0])


def test_total_variation_constructed():
    assert total_variation([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert total_variation([1.0, 0.0], [0.0, 1.0]) == 1.0
    assert total_variation([0.5, 0.3, 0.2], [0.2, 0.3, 0.5]) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        total_variation([0.5, 0.5], [1.0])


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _assert_png(path, directory):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 1000
    leftovers = [p.name for p in directory.iterdir() if p.name.endswith((".tmp", ".scorec-tmp"))]
    assert leftovers == []


@pytest.mark.parametrize("d", [1, 2, 3])
def test_plot_samples_writes_png(tmp_path, d):
    ref = _rng(22).standard_normal((800, d))
    smp = _rng(23).standard_normal((600, d)) * 1.2
    smp[0] = np.nan  # a diverged sample must not break plotting
    out = plot_samples(smp, ref, tmp_path / f"samples_{d}.png", title=f"d={d}")
    assert out == tmp_path / f"samples_{d}.png"
    _assert_png(out, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"samples_{d}.png"]


def test_plot_loss_writes_png_and_skips_lossless_events(tmp_path):
    rng = _rng(24)
    events = [{"step": s, "loss": float(np.exp(-s / 300) + 0.05 * rng.random()),
               "lr": 1e-3, "time": 0.01 * s} for s in range(1, 1001)]
    events.insert(10, {"step": 10, "lr": 1e-3})  # no loss: skipped
    out = plot_loss(events, tmp_path / "loss.png")
    _assert_png(out, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png"]


def test_plots_leave_no_pyplot_figures(tmp_path):
    import sys

    plot_loss([{"step": 1, "loss": -1.0}, {"step": 2, "loss": 0.5}], tmp_path / "l.png")
    plot_samples(np.zeros((5, 2)), np.ones((5, 2)), tmp_path / "s.png")
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []
