"""Evaluation of a run: metrics.json from samples.npz, the pictures and report.html.

Point metrics (mmd, swd, c2st, energy_distance) compare with reference.npz; image metrics
(fid, kid, is, precision_recall) compare features with the dataset's; a Gaussian mixture's
mode weights and a normalized model's held-out nll are added where they apply. The likelihood
metrics (nll through the probability-flow ODE, a discrete chain's vlb) come from the emitted
likelihood.py, which evaluates the trained model itself on held-out data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.console import Console

from ..components import registry
from ..core.files import atomic_write, atomic_write_text
from ..pipeline import Compiled
from . import RunFailed
from .launch import read_events
from .likelihood import held_out_likelihood, mixture_of


def _reference(ir, run_dir: Path) -> np.ndarray:
    """reference.npz (sample.py writes it); rebuilt through the run's common.py when eval.n_reference
    changed since (scorec eval --set eval.n_reference=...)."""
    path = run_dir / "reference.npz"
    if path.is_file():
        reference = np.load(path)["samples"]
        if len(reference) == ir.eval.n_reference:
            return reference
    from ..metrics.images import import_common

    reference = np.asarray(import_common(run_dir / "code").reference_data(ir.eval.n_reference, ir.seed + 2))
    atomic_write(path, lambda fh: np.savez(fh, samples=reference))
    return reference


def evaluate(compiled: Compiled, run_dir: Path, console: Console | None = None, device: str = "auto") -> dict:
    """Metrics of samples.npz, written to metrics.json, plus pictures and report.html.

    Point metrics (mmd, swd, c2st, energy_distance) compare with reference.npz; image metrics
    (fid, kid, is, precision_recall; data of shape (C, H, W)) compare features with the
    dataset's train split and add floors (the test split against the same reference). The
    model's likelihood of held-out data (nll, vlb) comes from the emitted likelihood.py, run
    on `device`."""
    from .conditional import evaluate_conditional
    from .report import plot_loss, plot_samples, write_report

    console = console or Console(stderr=True)
    ir = compiled.ir
    reference = _reference(ir, run_dir)
    metrics, x, labels = sample_metrics(ir, run_dir, run_dir / "samples.npz", reference, console)
    if "normalized" in registry.get("objective", ir.objective.kind).traits and ir.trains:
        metrics.update(_normalized_nll(ir, run_dir))
    if ir.eval.likelihood is not None:
        metrics.update(held_out_likelihood(ir, run_dir, device, console))
    _write_json(run_dir / "metrics.json", metrics)
    plot_samples(x, reference, run_dir / "samples.png", title=f"{ir.name}: {ir.sampler.kind}, {metrics['nfe']} NFE")
    # issue 16: a conditional model's pictures (a row per class) and its guidance scales (run/conditional.py)
    evaluate_conditional(ir, run_dir, x, labels, reference, metrics, log=console.print,
                         measure=lambda path: sample_metrics(ir, run_dir, path, reference, console, floors=False)[0])
    events = read_events(run_dir / "events.jsonl")
    if any("loss" in e for e in events):
        plot_loss(events, run_dir / "loss.png")
    write_report(run_dir, ir, metrics, console=console)
    return metrics


def sample_metrics(ir, run_dir: Path, path: Path, reference: np.ndarray, console: Console, floors: bool = True):
    """The metrics of one samples file (samples.npz, or a guidance sweep's other scale; image floors only
    where `floors`): (metrics, its finite samples, the labels they asked for or None)."""
    from ..metrics import compute_metrics, mode_shares, total_variation
    from ..metrics.images import IMAGE_METRICS, evaluate_images, import_common, load_image_data
    from ..schema.spec import LIKELIHOOD_METRICS

    samples = np.load(path)
    x = samples["samples"]
    metrics: dict[str, float] = {"nfe": int(samples["nfe"])}
    # what the sampler reported (a Metropolis acceptance rate), averaged over samples
    metrics.update({key[len("stat_"):]: float(samples[key]) for key in samples.files if key.startswith("stat_")})
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    metrics["finite_fraction"] = float(finite.mean())
    x = x[finite]
    labels = samples["labels"][finite] if "labels" in samples.files else None  # what each sample asked for
    point_names = [n for n in ir.eval.metrics if n not in IMAGE_METRICS and n not in LIKELIHOOD_METRICS]
    image_names = [n for n in ir.eval.metrics if n in IMAGE_METRICS]
    if len(x) > 1:
        metrics.update(compute_metrics(point_names, x, reference, seed=ir.seed))
        if image_names and len(ir.data.shape) == 3:
            from ..metrics.features import FeatureError, MissingExtra

            data = load_image_data(import_common(run_dir / "code"), ir.seed)
            try:
                metrics.update(evaluate_images(image_names, x, data, ir.eval.features, ir.eval.n_reference,
                                               seed=ir.seed, floors=floors, log=console.print))
            except (MissingExtra, FeatureError) as exc:
                raise RunFailed(str(exc)) from None
        if "mixture" in registry.get("data", ir.data.kind).traits:  # the modes and their weights are known
            shares = mode_shares(x.reshape(len(x), -1), np.asarray(ir.data.means))
            metrics["mode_tv"] = total_variation(shares, np.asarray(ir.data.weights))
        if labels is not None:  # issue 16: label accuracy and per-class metrics (run/conditional.py)
            from .conditional import conditional_metrics

            metrics.update(conditional_metrics(ir, run_dir, x, labels, log=console.print))
    return metrics, x, labels


def _normalized_nll(ir, run_dir: Path) -> dict:
    """The trained model is a normalized density: its nll on held-out data (and, for a mixture,
    the data's own on the same points)."""
    from ..metrics.images import import_common
    from ..metrics.likelihood import held_out_nll

    return held_out_nll(import_common(run_dir / "code"), run_dir, ir.seed, mixture_of(ir))


def _write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
