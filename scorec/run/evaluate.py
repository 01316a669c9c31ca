"""Evaluation of a run: metrics.json from samples.npz, the pictures and report.html.

Point metrics (mmd, swd, c2st, energy_distance) compare with reference.npz; image metrics
(fid, kid, is, precision_recall) compare features with the dataset's; a Gaussian mixture's
mode weights and a normalized model's held-out log-likelihood are added where they apply.
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


def evaluate(compiled: Compiled, run_dir: Path, console: Console | None = None) -> dict:
    """Metrics of samples.npz, written to metrics.json, plus pictures and report.html.

    Point metrics (mmd, swd, c2st, energy_distance) compare with reference.npz; image metrics
    (fid, kid, is, precision_recall; data of shape (C, H, W)) compare features with the
    dataset's train split and add floors (the test split against the same reference)."""
    from .conditional import plot_classes, plot_sweep, record_scale
    from .report import plot_loss, plot_samples, write_report

    console = console or Console(stderr=True)
    ir = compiled.ir
    reference = _reference(ir, run_dir)
    metrics, x, labels, samples = sample_metrics(ir, run_dir, "samples.npz", reference, console)
    if "normalized" in registry.get("objective", ir.objective.kind).traits and ir.trains:
        metrics.update(_log_likelihood(ir, run_dir))
    _write_json(run_dir / "metrics.json", metrics)
    plot_samples(x, reference, run_dir / "samples.png", title=f"{ir.name}: {ir.sampler.kind}, {metrics['nfe']} NFE")
    for picture in ("classes.png", "guidance.png"):  # a conditional model's, drawn again below
        (run_dir / picture).unlink(missing_ok=True)
    if labels is not None:  # a conditional model: a row per class; the guidance scales evaluated so far
        plot_classes(x, labels, reference, run_dir / "classes.png")
        if "guidance_scale" in samples.files:
            plot_sweep(record_scale(ir, run_dir, float(samples["guidance_scale"]), metrics), run_dir / "guidance.png")
    events = read_events(run_dir / "events.jsonl")
    if any("loss" in e for e in events):
        plot_loss(events, run_dir / "loss.png")
    write_report(run_dir, ir, metrics, console=console)
    return metrics


def sample_metrics(ir, run_dir: Path, name: str, reference: np.ndarray, console: Console, floors: bool = True):
    """The metrics of RUN_DIR/<name> (a samples.npz): (metrics, its finite samples, the labels they asked
    for or None, the file)."""
    from ..metrics import compute_metrics, mode_shares, total_variation
    from ..metrics.images import IMAGE_METRICS, evaluate_images, import_common, load_image_data
    from .conditional import conditional_metrics

    samples = np.load(run_dir / name)
    x = samples["samples"]
    metrics: dict[str, float] = {"nfe": int(samples["nfe"])}
    # what the sampler reported (a Metropolis acceptance rate), averaged over samples
    metrics.update({key[len("stat_"):]: float(samples[key]) for key in samples.files if key.startswith("stat_")})
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    metrics["finite_fraction"] = float(finite.mean())
    x = x[finite]
    labels = samples["labels"][finite] if "labels" in samples.files else None  # what each sample asked for
    point_names = [n for n in ir.eval.metrics if n not in IMAGE_METRICS]
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
        if labels is not None:
            metrics.update(conditional_metrics(ir, run_dir, x, labels, log=console.print))
    return metrics, x, labels, samples


def evaluate_sweep(compiled: Compiled, run_dir: Path, console: Console | None = None) -> None:
    """The metrics of each further guidance scale a sweep drew (samples_guidance_<w>.npz), recorded in
    RUN_DIR/guidance.json for the report (no floors: they do not depend on the scale)."""
    from .conditional import record_scale, sweep_samples

    console = console or Console(stderr=True)
    reference = _reference(compiled.ir, run_dir)
    for scale, name in sweep_samples(compiled.ir):
        metrics = sample_metrics(compiled.ir, run_dir, name, reference, console, floors=False)[0]
        record_scale(compiled.ir, run_dir, scale, metrics)
        console.print(f"guidance scale {scale:g}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()
                                                                if "_class_" not in k))


def _log_likelihood(ir, run_dir: Path) -> dict:
    """The trained model is a normalized density: its mean log p on held-out data (and, for a
    mixture, the data's own on the same points)."""
    from ..metrics.images import import_common
    from ..metrics.likelihood import held_out_log_likelihood

    mixture = None
    if "mixture" in registry.get("data", ir.data.kind).traits:
        mixture = (ir.data.weights, ir.data.means, ir.data.stds)
    return held_out_log_likelihood(import_common(run_dir / "code"), run_dir, ir.seed, mixture)


def _write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
