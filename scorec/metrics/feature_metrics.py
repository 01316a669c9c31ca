"""Sample-quality metrics on feature vectors: FID, KID, Inception Score, precision/recall.

Every function takes plain float arrays of features ``(n, d)`` (or class logits for the
Inception Score), so it can be checked against independent computations on fixed
features; which network made the features is scorec.metrics.features' business. All
arithmetic is float64; randomness comes from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "feature_stats",
    "frechet_distance",
    "fid",
    "kid",
    "inception_score",
    "precision_recall",
]


def _features(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"features must be (n, d), got shape {a.shape}")
    return a


def feature_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (ddof=1, as in the reference FID code) of (n, d) features."""
    f = _features(feats)
    if len(f) < 2:
        raise ValueError("FID needs at least two feature vectors")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (eigenvalues clipped at 0 against round-off)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), the Fréchet distance of two Gaussians.

    tr (S1 S2)^(1/2) = tr (A S2 A)^(1/2) with A = S1^(1/2): the eigenvalues of S1 S2 and of the
    symmetric PSD A S2 A coincide, so a symmetric eigendecomposition suffices. That is stabler
    than a general sqrtm of the non-symmetric product (no complex parts to drop, no blow-up
    when S1 is singular, as it is whenever n <= d).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    a = _sqrt_psd(s1)
    w = np.linalg.eigvalsh(a @ s2 @ a)
    tr_sqrt = float(np.sqrt(np.clip(w, 0.0, None)).sum())
    value = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt)
    return max(value, 0.0)  # a set against itself gives -1e-12, not a negative distance


def fid(feats_x, feats_y) -> float:
    """Fréchet Inception Distance between two feature sets (n, d) and (m, d)."""
    return frechet_distance(*feature_stats(feats_x), *feature_stats(feats_y))


def _mmd2_poly_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the KID kernel k(a, b) = (a.b / d + 1)^3."""
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    n, m = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2.0 * kxy.mean())


def kid(feats_x, feats_y, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018) and its standard error.

    KID is the mean over `n_subsets` random subsets (drawn without replacement, a fresh pair each
    time) of the unbiased MMD^2 with the cubic polynomial kernel. Every subset value is an unbiased
    estimate of MMD^2, so the mean is too, whatever the subset size s = min(subset_size, n // 2),
    n being the smaller set's size.

    The standard error is the sampling uncertainty of the estimate (what another draw of the sample
    sets would change), not only the Monte Carlo error sd / sqrt(n_subsets) of averaging subsets of
    the same sets: that one ignores that the subsets share points, and it goes to 0 as the subsets
    approach the whole sets (at s = n they all coincide), however few samples there are. The spread
    of the subset values, variance v, is turned into the variance of the whole-set statistic by the
    delete-d jackknife (Shao & Wu 1989) with d = n - s: v * s / (n - s); the Monte Carlo variance
    v / n_subsets of the mean is added. The cap s <= n // 2 keeps d >= s, so the subsets differ and
    the factor s / (n - s) is at most 1. The estimate is about right when MMD^2 is clearly positive
    and the sets have equal sizes; it is conservative (too large, up to about 1.5x in a Monte Carlo
    check) near MMD^2 = 0, where the statistic is degenerate, and when one set is larger than the
    other. NaN when it cannot be estimated: n_subsets = 1.
    """
    x, y = _features(feats_x), _features(feats_y)
    n = min(len(x), len(y))
    size = min(subset_size, n // 2)
    if size < 2:
        raise ValueError("KID needs at least four feature vectors in each set (subsets of two, at most half a set)")
    rng = np.random.default_rng(seed)
    values = np.array([
        _mmd2_poly_unbiased(x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)])
        for _ in range(n_subsets)])
    if n_subsets < 2:
        return float(values.mean()), float("nan")
    v = float(values.var(ddof=1))
    return float(values.mean()), math.sqrt(v * size / (n - size) + v / n_subsets)


def inception_score(logits, splits: int = 10) -> tuple[float, float]:
    """Inception Score exp(E_x KL(p(y|x) || p(y))) from class logits (n, classes).

    The samples are cut into `splits` consecutive parts (as in Salimans et al. 2016); returns the
    mean and the standard deviation of the per-part scores. Its maximum is the number of classes.
    """
    z = _features(logits)
    if not 1 <= splits <= len(z):
        raise ValueError(f"inception_score: splits must be between 1 and n={len(z)}, got {splits}")
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # log softmax
    scores = []
    for part in np.array_split(log_p, splits):
        p = np.exp(part)
        log_marginal = np.log(p.mean(axis=0))
        scores.append(math.exp(float((p * (part - log_marginal)).sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


def _pairwise_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(d2, 0.0))


def _knn_radii(f: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded)."""
    radii = np.empty(len(f))
    for start in range(0, len(f), chunk):
        d = _pairwise_dists(f[start:start + chunk], f)
        # column k of the sorted row: index 0 is the point itself (distance 0)
        radii[start:start + chunk] = np.partition(d, k, axis=1)[:, k]
    return radii


def _inside_manifold(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 1024) -> np.ndarray:
    inside = np.empty(len(points), dtype=bool)
    for start in range(0, len(points), chunk):
        d = _pairwise_dists(points[start:start + chunk], centres)
        inside[start:start + chunk] = (d <= radii[None, :]).any(axis=1)
    return inside


def precision_recall(feats_real, feats_fake, k: int = 3, max_points: int = 10000, seed: int = 0) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its points with radius the distance to
    the point's k-th nearest neighbour in its own set. Precision: the fraction of fake points
    inside the real manifold; recall: the fraction of real points inside the fake manifold.
    Sets larger than max_points are subsampled (seeded) to bound the O(n^2) distances.
    """
    real, fake = _features(feats_real), _features(feats_fake)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision_recall needs more than k={k} points in each set")
    rng = np.random.default_rng(seed)
    if len(real) > max_points:
        real = real[rng.choice(len(real), max_points, replace=False)]
    if len(fake) > max_points:
        fake = fake[rng.choice(len(fake), max_points, replace=False)]
    precision = float(_inside_manifold(fake, real, _knn_radii(real, k)).mean())
    recall = float(_inside_manifold(real, fake, _knn_radii(fake, k)).mean())
    return precision, recall
