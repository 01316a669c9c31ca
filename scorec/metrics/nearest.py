"""Nearest-neighbour distances to the data: how sharp samples are.

nn_ratio = mean over samples of the distance to the nearest data point, over the same mean for
fresh data points (an independent draw of as many). 1.0: the samples lie as close to the data as
data do; a blurred model's samples fill the gaps between the data's arms and sit farther off
(> 1). Where swd and MMD average over the whole cloud and barely see a thin blur, this looks at
each sample's neighbourhood, as the eye does. A mode-dropping model can score about 1 (every
sample on the data); read it beside swd or c2st.
"""

from __future__ import annotations

import numpy as np

from .points import as_2d


def nearest_distances(queries, points, chunk: int = 2048) -> np.ndarray:
    """Euclidean distance from each query (n, d) to its nearest point of `points` (m, d), exactly
    (brute force in chunks of queries: O(n m d) work, O(chunk m) memory)."""
    q, p = as_2d(queries), as_2d(points)
    if q.shape[1] != p.shape[1]:
        raise ValueError(f"dimension mismatch: {q.shape[1]} vs {p.shape[1]}")
    if len(p) == 0:
        raise ValueError("nearest_distances needs at least one point")
    p_sq = np.einsum("ij,ij->i", p, p)
    out = np.empty(len(q))
    for start in range(0, len(q), chunk):
        block = q[start:start + chunk]
        d2 = np.einsum("ij,ij->i", block, block)[:, None] + p_sq[None, :] - 2.0 * (block @ p.T)
        out[start:start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def nn_ratio(samples, data, fresh, max_points: int = 5000, seed: int = 0) -> float:
    """mean_i min_j |samples_i - data_j| / mean_i min_j |fresh_i - data_j|.

    samples: (n, d) generated.  data: (m, d) real data they are measured against.  fresh: (n', d)
    an independent draw of real data, as many as the samples, so that both means see the data at
    the same density.  max_points: samples and fresh points are each subsampled (seeded) to at
    most this many, bounding the work at O(max_points * m * d)."""
    rng = np.random.default_rng(seed)
    samples, fresh = as_2d(samples), as_2d(fresh)
    if len(samples) > max_points:
        samples = samples[rng.choice(len(samples), max_points, replace=False)]
    if len(fresh) > max_points:
        fresh = fresh[rng.choice(len(fresh), max_points, replace=False)]
    baseline = float(nearest_distances(fresh, data).mean())
    value = float(nearest_distances(samples, data).mean())
    if baseline == 0.0:  # fresh points on top of the data (a discrete data set)
        return 1.0 if value == 0.0 else float("inf")
    return value / baseline
