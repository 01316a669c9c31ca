"""How close a finished run's samples are to its data, each number beside its floor.

    python bench/example_quality.py RUN_DIR [RUN_DIR ...]

For each run directory (after `scorec run`): c2st accuracy (scorec.metrics.two_sample.c2st,
0.5 = indistinguishable), nn_ratio (the mean distance from each sample to its nearest point
of a data set D, over the same for fresh data points: 1.0 is as sharp as the data; issue 19)
and the sliced Wasserstein distance, each with its floor: the same metric for a fresh draw of
data of the sample size in place of the samples. D is the run's reference.npz; the fresh draw
comes from the run's own common.py (reference_data with another seed), so nothing here knows
the data source. Used for bench/NOTES.md "Examples as good as their data".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from scorec.metrics import sliced_wasserstein
from scorec.metrics.images import import_common
from scorec.metrics.two_sample import c2st

FRESH_SEED = 12345  # any seed other than the run's reference (seed + 2)


def nearest_distance_mean(points: np.ndarray, data: np.ndarray, chunk: int = 1024) -> float:
    """Mean over `points` of the Euclidean distance to the nearest row of `data`."""
    total = 0.0
    sq = (data * data).sum(1)
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk]
        d2 = (p * p).sum(1)[:, None] + sq[None, :] - 2.0 * (p @ data.T)
        total += float(np.sqrt(np.maximum(d2.min(1), 0.0)).sum())
    return total / len(points)


def nn_ratio(samples: np.ndarray, data: np.ndarray, fresh: np.ndarray) -> float:
    """Mean nearest-data distance of the samples over that of fresh data (issue 19)."""
    return nearest_distance_mean(samples, data) / nearest_distance_mean(fresh, data)


def quality(run_dir: Path) -> dict:
    """The numbers of one run (samples.npz and reference.npz, flattened to vectors)."""
    x = np.load(run_dir / "samples.npz")["samples"]
    x = x.reshape(len(x), -1).astype(np.float64)
    x = x[np.isfinite(x).all(1)]
    ref = np.load(run_dir / "reference.npz")["samples"]
    ref = ref.reshape(len(ref), -1).astype(np.float64)
    fresh = np.asarray(import_common(run_dir / "code").reference_data(len(x), FRESH_SEED), np.float64)
    fresh = fresh.reshape(len(fresh), -1)
    out = {"n": len(x)}
    out["c2st"], out["c2st_p"] = c2st(x, ref)
    out["c2st_floor"], _ = c2st(fresh, ref)
    half = len(fresh) // 2  # the floor's fresh points against a second fresh half
    out["nn_ratio"] = nn_ratio(x, ref, fresh)
    out["nn_ratio_floor"] = nn_ratio(fresh[:half], ref, fresh[half:])
    out["swd"] = sliced_wasserstein(x, ref)
    out["swd_floor"] = sliced_wasserstein(fresh, ref)
    metrics = run_dir / "metrics.json"
    if metrics.is_file():
        out["nfe"] = json.loads(metrics.read_text()).get("nfe")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON object a line")
    args = parser.parse_args(argv)
    for run in args.runs:
        q = quality(run)
        if args.json:
            print(json.dumps({"run": str(run), **q}))
            continue
        print(f"{run}: c2st {q['c2st']:.3f} (floor {q['c2st_floor']:.3f})  "
              f"nn_ratio {q['nn_ratio']:.2f} (floor {q['nn_ratio_floor']:.2f})  "
              f"swd {q['swd']:.4f} (floor {q['swd_floor']:.4f}, {q['swd'] / q['swd_floor']:.1f}x)  n {q['n']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
