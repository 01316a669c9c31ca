"""What a metric's compute function gets, and the loop that computes the listed metrics with
their floors.

An Evaluation holds the samples, the reference data (reference.npz), the run's seed and IR, and
the run's program (its emitted code, imported once by scorec.run.program: the one way scorec
reaches a run's code), and `launch(name, total)`, which runs the run's emitted program code/<name>.py
to completion with its progress shown (a likelihood's likelihood.py). Real data beyond the reference come from the program: `fresh(k)` is the
k-th independent draw of real data of the samples' size: `reference_data(n, seed)` for points
(with seeds no other draw uses), consecutive slices of the test split for images (the train
split is the image metrics' reference). A floor is the metric computed on `floor_view()`, where
fresh(0) stands in for the samples; what is costly to rebuild (image features, the data splits,
fresh draws) is kept in a cache every view of one evaluation shares.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .registry import IMAGES, get

FRESH_SEED_OFFSET = 3  # reference.npz is drawn with seed + 2, the samples with seed + 1


class Evaluation:
    def __init__(self, samples: np.ndarray, reference: np.ndarray, *, ir: Any, program: Any, samples_kind: str,
                 seed: int = 0, log: Callable[[str], None] = print, launch: Callable[[str, int], None] | None = None,
                 role: str = "samples", n: int | None = None, cache: dict | None = None):
        self.samples = samples  # (n, *shape), finite rows only
        self.n = len(samples) if n is None else n  # the samples' size: fresh draws have it
        self.reference = reference  # (m, *shape) real data
        self.ir = ir  # the run's ProgramIR (data options, eval.features, eval.n_reference ...)
        self.program = program  # the run's code (scorec.run.program.RunProgram)
        self.samples_kind = samples_kind  # points | images
        self.seed = seed
        self.log = log
        self.launch = launch or _cannot_launch
        self.role = role  # "samples", or "floor" where fresh(0) stands in for the samples
        self.cache = {} if cache is None else cache
        # what a metric's machinery reports beside the metrics (the feature classifier's accuracy)
        self.reports: dict[str, float] = self.cache.setdefault("reports", {})

    def cached(self, key, make: Callable[[], Any]) -> Any:
        """make(), once per evaluation (shared by its floor view)."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def fresh(self, k: int = 0) -> np.ndarray:
        """The k-th independent draw of real data, as many points as there are samples."""
        return self.cached(("fresh", k, self.n), lambda: self._draw(k, self.n))

    def _draw(self, k: int, n: int) -> np.ndarray:
        if self.samples_kind == IMAGES:
            from .images import image_data

            test = image_data(self).test
            part = test[k * n: (k + 1) * n]  # at most n: the floor of a split smaller than the samples is smaller
            if len(part) == 0:
                raise ValueError(f"the test split ({len(test)} images) has no draw {k} of {n}")
            return part
        return np.asarray(self.program.common.reference_data(n, self.seed + FRESH_SEED_OFFSET + k))

    def floor_view(self) -> "Evaluation":
        """This evaluation with fresh(0), real data, in place of the samples."""
        return Evaluation(self.fresh(0), self.reference, ir=self.ir, program=self.program,
                          samples_kind=self.samples_kind, seed=self.seed, log=self.log, launch=self.launch,
                          role="floor", n=self.n, cache=self.cache)


def _cannot_launch(name: str, total: int) -> None:
    raise RuntimeError(f"this evaluation runs no emitted program ({name}.py): pass Evaluation(launch=...)")


def evaluate_metrics(names: tuple[str, ...] | list[str], ev: Evaluation, floors: bool = True) -> dict[str, float]:
    """Each named metric of ev, then (where it has one, and `floors`) its floor: every key it returns
    but the unfloored ones, as <key>_floor. Metrics that compare samples are skipped with fewer than two."""
    out: dict[str, float] = {}
    for name in names:
        m = get(name)
        if m.of_samples and len(ev.samples) < 2:
            continue
        values = m.compute(ev)
        out.update(values)
        if m.floor and floors:
            floor = m.compute(ev.floor_view())
            out.update({f"{key}_floor": value for key, value in floor.items() if key not in m.unfloored})
    out.update(ev.reports)
    return {key: float(value) for key, value in out.items()}
