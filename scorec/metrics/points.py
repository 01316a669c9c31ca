"""Distances between point clouds: sliced Wasserstein, MMD with its permutation test, and the
mode shares of a mixture.

Every function takes numpy arrays of shape ``(n, d)``; image-shaped arrays ``(n, *shape)`` are
flattened to ``(n, prod(shape))``. Randomness (projection directions, subsampling, permutations)
comes from ``np.random.default_rng(seed)``, so a result is a deterministic function of its inputs
and ``seed``. The registered metrics that use them are in ``kinds/``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_2d",
    "mmd_rbf",
    "mode_shares",
    "sliced_wasserstein",
    "total_variation",
]


def as_2d(a: np.ndarray) -> np.ndarray:
    """Flatten ``(n, *shape)`` to ``(n, d)`` float64 so metrics see plain vectors."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return a[:, None]
    return a.reshape(a.shape[0], -1)


def _check_pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = as_2d(x), as_2d(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"dimension mismatch: {x.shape[1]} vs {y.shape[1]}")
    if len(x) == 0 or len(y) == 0:
        raise ValueError("metrics need non-empty sample sets")
    return x, y


# --------------------------------------------------------------------------
# Sliced Wasserstein
# --------------------------------------------------------------------------


def _quantile_pairing(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact pairing of two empirical quantile functions.

    W1 in 1-D is ``int_0^1 |F^-1(u) - G^-1(u)| du``. Both quantile functions are
    step functions with jumps at ``i/n`` and ``j/m``; between consecutive jumps
    both are constant. Working in integer units of ``1/(n*m)`` keeps the
    breakpoints exact. Returns (index into sorted a, index into sorted b, weight)
    per piece; the weights sum to 1.
    """
    if n == m:
        idx = np.arange(n)
        return idx, idx, np.full(n, 1.0 / n)
    ends = np.union1d(np.arange(1, n + 1, dtype=np.int64) * m,
                      np.arange(1, m + 1, dtype=np.int64) * n)
    starts = np.concatenate(([0], ends[:-1]))
    weights = (ends - starts) / float(n * m)
    return starts // m, starts // n, weights


def sliced_wasserstein(x: np.ndarray, y: np.ndarray, n_projections: int = 512,
                       seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between two point clouds.

    Mean over random unit directions theta (normalised Gaussians, i.e. uniform
    on the sphere) of the exact 1-D W1 between ``x @ theta`` and ``y @ theta``.
    Sizes may differ; the 1-D W1 is then integrated exactly over the merged
    quantile breakpoints.

    x: (n, d) samples.  y: (m, d) reference.  n_projections: number of
    directions (Monte Carlo error ~ 1/sqrt(n_projections)).  seed: picks the
    directions.
    """
    x, y = _check_pair(x, y)
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((x.shape[1], n_projections))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    ia, ib, w = _quantile_pairing(len(x), len(y))
    # Chunk the directions so memory stays ~ (n + m) * chunk floats.
    chunk = max(1, int(4_000_000 // (len(x) + len(y) + len(w))))
    total = 0.0
    for start in range(0, n_projections, chunk):
        th = theta[:, start:start + chunk]
        px = np.sort(x @ th, axis=0)
        py = np.sort(y @ th, axis=0)
        total += float((w @ np.abs(px[ia] - py[ib])).sum())
    return total / n_projections


# --------------------------------------------------------------------------
# MMD
# --------------------------------------------------------------------------


def _subsample(a: np.ndarray, max_points: int, rng: np.random.Generator) -> np.ndarray:
    if len(a) <= max_points:
        return a
    return a[rng.choice(len(a), size=max_points, replace=False)]


def _sq_dists(z: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances, clipped at 0 against round-off."""
    sq = np.einsum("ij,ij->i", z, z)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (z @ z.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return d2


def _median_bandwidth(d2: np.ndarray) -> float:
    """Median heuristic: median of the distances over distinct pairs i < j."""
    iu = np.triu_indices(len(d2), k=1)
    # Median of distances, not sqrt of median of squares: they differ when the
    # number of pairs is even (np.median averages the two middle values).
    h = float(np.median(np.sqrt(d2[iu])))
    return h if h > 0 else 1.0  # all points identical: any bandwidth gives MMD 0


def _mmd2_batch(k: np.ndarray, in_x: np.ndarray) -> np.ndarray:
    """Unbiased MMD^2 for many labelings of one pooled sample at once.

    k: (N, N) kernel matrix with a zero diagonal (so xx and yy sums are over
    i != j).  in_x: (N, P) boolean, column p marks the X-set of labeling p.
    One matrix product ``k @ A`` serves all P labelings, which is what makes
    the permutation test cheap.
    """
    a = in_x.astype(np.float64)
    n = a.sum(axis=0)
    m = len(k) - n
    ka = k @ a                      # row i: sum of k[i, j] over j in X
    k_rest = k.sum(axis=1)[:, None] - ka   # row i: sum over j in Y
    s_xx = (a * ka).sum(axis=0)
    s_xy = (a * k_rest).sum(axis=0)
    s_yy = ((1.0 - a) * k_rest).sum(axis=0)
    return s_xx / (n * (n - 1)) + s_yy / (m * (m - 1)) - 2.0 * s_xy / (n * m)


def mmd_rbf(x: np.ndarray, y: np.ndarray, n_permutations: int = 200,
            max_points: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Unbiased MMD^2 with an RBF kernel, and a permutation-test p-value.

    Kernel k(a, b) = exp(-|a - b|^2 / (2 h^2)) with h the median pairwise
    distance of the pooled sample (median heuristic). The p-value is
    (1 + #{permuted statistic >= observed}) / (1 + n_permutations); it is 1.0
    when n_permutations == 0.

    x: (n, d) samples.  y: (m, d) reference.  n_permutations: size of the
    null distribution.  max_points: each set is subsampled (without
    replacement) to at most this many points, bounding cost at
    O(max_points^2).  seed: subsampling and permutations.
    """
    x, y = _check_pair(x, y)
    rng = np.random.default_rng(seed)
    x = _subsample(x, max_points, rng)
    y = _subsample(y, max_points, rng)
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ValueError("mmd_rbf needs at least two points in each set")
    d2 = _sq_dists(np.concatenate([x, y]))
    h = _median_bandwidth(d2)
    k = np.exp(d2 / (-2.0 * h * h), out=d2)
    np.fill_diagonal(k, 0.0)

    labels = np.zeros((n + m, 1 + n_permutations), dtype=bool)
    labels[:n, 0] = True
    for p in range(1, 1 + n_permutations):
        labels[rng.permutation(n + m)[:n], p] = True
    stats = _mmd2_batch(k, labels)
    observed = float(stats[0])
    pvalue = (1.0 + float(np.sum(stats[1:] >= observed))) / (1.0 + n_permutations)
    return observed, pvalue


# --------------------------------------------------------------------------
# Mode coverage
# --------------------------------------------------------------------------


def mode_shares(x: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Fraction of points whose nearest mean is each mean, shape (k,).

    x: (n, d) samples.  means: (k, d) mode centres (e.g. GMM means).
    Compare with the mixture weights via ``total_variation`` to detect
    mode collapse or wrong mode proportions.
    """
    x, means = _check_pair(x, means)
    d2 = ((x[:, None, :] - means[None, :, :]) ** 2).sum(axis=-1)
    counts = np.bincount(d2.argmin(axis=1), minlength=len(means))
    return counts / float(len(x))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance 0.5 * sum |p - q| between two probability vectors.

    p, q: (k,) probability vectors (e.g. mode shares and mixture weights).
    """
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"shape mismatch: {p.shape} vs {q.shape}")
    return 0.5 * float(np.abs(p - q).sum())
