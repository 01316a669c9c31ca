"""Sample-quality metrics, each a registered component (registry.py; one module each in kinds/),
and the numerics they use: points.py (sliced Wasserstein, MMD, mode shares), two_sample.py
(c2st, energy distance), nearest.py (nn_ratio), feature_metrics.py, features.py and images.py
(image features and the metrics on them), likelihood.py.

The compiler imports this package for the registry's declarations, so it imports no numpy
here: the distance functions of points.py are re-exported on first use.
"""

from __future__ import annotations

_POINTS_API = ("mmd_rbf", "mode_shares", "sliced_wasserstein", "total_variation")


def __getattr__(name: str):
    if name in _POINTS_API:
        from . import points

        return getattr(points, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
