"""A conditional model's evaluation: label accuracy and per-class metrics of its samples, a picture
with a row per class, and the guidance sweep.

The sweep: `sample.guidance.scale: [w_1, w_2, ...]` draws samples.npz at w_1 and
samples_guidance_<w>.npz at each other scale; every evaluated scale (`scorec sample RUN_DIR --set
sample.guidance.scale=w` adds one) is recorded in RUN_DIR/guidance.json with its metrics, and the
report plots them against the scale. A record holds the scales of one model and one sampler: a
change of anything but the scale (the steps, the labels, the interval, the weights) starts it over.
"""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from ..components import registry
from ..core.files import atomic_write_text
from ..core.ir import to_json, training_hash
from ..metrics import registry as metrics_registry

SWEEP_RECORD = "guidance.json"


def swept() -> tuple[str, ...]:
    """What the record keeps of each scale's metrics (the per-class values stay in metrics.json): the
    NFE, the label accuracy, each metric of samples and the class mean of those measured per class."""
    kept = ["nfe", "label_accuracy"]
    for name, m in metrics_registry.metrics().items():
        if m.of_samples:
            kept += [name, f"{name}_by_class"] if m.per_class else [name]
    return tuple(kept)


def sweep_samples(ir) -> list[tuple[float, str]]:
    """(scale, samples file) of the scales a spec's sweep draws beside samples.npz (its first)."""
    guidance = getattr(ir.sampler, "guidance", None)
    if guidance is None:
        return []
    return [(scale, f"samples_guidance_{scale:g}.npz") for scale in guidance.scales[1:]]


def conditional_metrics(ir, program, x: np.ndarray, labels: np.ndarray, log=print) -> dict[str, float]:
    """label_accuracy (with its floor, the classifier on real data) and the per-class metrics of the
    samples x that asked for `labels`: those of eval.metrics that declare `per_class`, on the points or on
    the classifier's features of images."""
    from ..metrics import conditional as cm

    common = program.common  # the run's emitted common.py (run/program.py)
    seed = ir.seed
    if len(ir.data.shape) == 3:
        return _image_metrics(ir, common, x, labels, log)
    out: dict[str, float] = {}
    test, test_labels = _at_most(common.load_data("test", seed), common.load_labels("test", seed), seed)
    if "mixture" in registry.get("data", ir.data.kind).traits:  # the mixture's own Bayes classifier
        mixture = (ir.data.weights, ir.data.means, ir.data.stds)
        out["label_accuracy"] = cm.label_accuracy(cm.mixture_classes(x, *mixture), labels)
        out["label_accuracy_floor"] = cm.label_accuracy(cm.mixture_classes(test, *mixture), test_labels)
    train, train_labels = _at_most(common.load_data("train", seed), common.load_labels("train", seed), seed + 1)
    for name, distance in _per_class_distances(ir, metrics_registry.POINTS, seed).items():
        out.update(cm.per_class(distance, x.reshape(len(x), -1), labels, test.reshape(len(test), -1), test_labels,
                                train.reshape(len(train), -1), train_labels, name, seed=seed))
    return out


def _at_most(points, labels, seed: int, n: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Up to n of a split's points and their labels (a random subset): the per-class references."""
    points, labels = np.asarray(points), np.asarray(labels)
    keep = np.random.default_rng(seed).permutation(len(points))[:n]
    return points[keep], labels[keep]


def _per_class_distances(ir, samples: str, seed: int) -> dict:
    """name -> distance(a, b) of each listed metric that measures a class (its registered per_class)."""
    chosen = {name: metrics_registry.get(name) for name in ir.eval.metrics}
    return {name: partial(m.per_class, seed=seed) for name, m in chosen.items()
            if m.per_class is not None and m.applies_to(samples)}


def _image_metrics(ir, common, x: np.ndarray, labels: np.ndarray, log) -> dict[str, float]:
    """The evaluation classifier (trained on the labelled train split) on the samples: label_accuracy;
    per-class distances of its features to those of the train split's images of the class."""
    from ..metrics import conditional as cm
    from ..metrics.features import ClassifierExtractor
    from ..metrics.images import load_image_data

    data = load_image_data(common, ir.seed)
    classifier = ClassifierExtractor.for_dataset(data, log=log)
    features, logits = classifier(np.clip(x, -1, 1), "classifier on the samples")
    out = {"label_accuracy": cm.label_accuracy(logits.argmax(1), labels),
           "label_accuracy_floor": classifier.accuracy}  # the same classifier on the test split
    distances = _per_class_distances(ir, metrics_registry.IMAGES, ir.seed)
    if distances:
        train_features, _ = classifier(data.train, "classifier on the train split")
        test_features, _ = classifier(data.test, "classifier on the test split")
    for name, distance in distances.items():
        out.update(cm.per_class(distance, features, labels, train_features, data.train_labels, test_features,
                                data.test_labels, name, seed=ir.seed))
    return out


def evaluate_conditional(ir, run_dir: Path, x: np.ndarray, labels: np.ndarray | None, reference: np.ndarray,
                         metrics: dict, measure: Callable[[Path], dict], log=print) -> None:
    """evaluate()'s hook: a conditional model's samples.npz (labels not None) gets classes.png, a row per
    class; its scale's metrics and those of the sweep's other scales (measure(path): the metrics of a
    samples file) are recorded in guidance.json, plotted in guidance.png from two scales on."""
    run_dir = Path(run_dir)
    for picture in ("classes.png", "guidance.png"):  # drawn again below where they still apply
        (run_dir / picture).unlink(missing_ok=True)
    if labels is None:
        return
    plot_classes(x, labels, reference, run_dir / "classes.png")
    with np.load(run_dir / "samples.npz") as samples:  # the scale sample.py drew it at
        if "guidance_scale" not in samples.files:
            return
        record = record_scale(ir, run_dir, float(samples["guidance_scale"]), metrics)
    for scale, name in sweep_samples(ir):
        if (run_dir / name).is_file():
            swept = measure(run_dir / name)
            record = record_scale(ir, run_dir, scale, swept)
            log(f"guidance scale {scale:g}: " + ", ".join(f"{k}={v:.4g}" for k, v in swept.items() if "_class_" not in k))
    plot_sweep(record, run_dir / "guidance.png")


# ------------------------------------------------------------------------------ the guidance sweep


def sample_sweep(compiled, run_dir: Path, device: str, console, launch) -> None:
    """A guidance sweep's further scales (sample.guidance.scale: [w_1, w_2, ...]; samples.npz has w_1):
    sample.py once each into samples_guidance_<w>.npz (evaluate_conditional measures them). Nothing for a
    spec without a sweep."""
    from .launch import run_program

    for scale, name in sweep_samples(compiled.ir):
        run_program(Path(run_dir) / "code" / "sample.py", run_dir, device, f"sample-guidance-{scale:g}",
                    compiled.ir.sampler.n, ["--guidance-scale", repr(scale), "--samples", name], console, launch)


def sweep_key(ir) -> str:
    """What a record's scales share: the trained model and every sampling setting but the scale."""
    sampler = to_json(ir.sampler)
    sampler["guidance"] = {k: v for k, v in sampler["guidance"].items() if k != "scales"}
    sampler.pop("nfe")  # a guided count depends on the scale
    text = json.dumps({"training": training_hash(ir), "sampler": sampler, "eval": to_json(ir.eval)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def record_scale(ir, run_dir: Path, scale: float, metrics: dict) -> dict:
    """Add (or replace) one scale's metrics in RUN_DIR/guidance.json; returns the record."""
    path = Path(run_dir) / SWEEP_RECORD
    key = sweep_key(ir)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict) or record.get("key") != key:
        record = {"key": key, "scales": {}}
    kept = swept()
    record["scales"][f"{scale:g}"] = {k: float(v) for k, v in metrics.items() if k in kept or k.endswith("_floor")
                                      and k[: -len("_floor")] in kept}
    record["scales"] = dict(sorted(record["scales"].items(), key=lambda item: float(item[0])))
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    return record


def plot_sweep(record: dict, path: Path) -> Path | None:
    """Each recorded metric (and its floor) against the guidance scale, one panel each; None for fewer
    than two scales."""
    from .plots import new_figure, save_figure

    scales = sorted(record.get("scales", {}), key=float)
    if len(scales) < 2:
        return None
    names = [m for m in swept() if m != "nfe" and all(m in record["scales"][s] for s in scales)]
    if not names:
        return None
    fig = new_figure(4 * len(names), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    w = [float(s) for s in scales]
    for ax, name in zip(axes, names):
        ax.plot(w, [record["scales"][s][name] for s in scales], "o-", color="tab:blue", label=name)
        floors = [record["scales"][s].get(f"{name}_floor") for s in scales]
        if all(f is not None for f in floors):
            ax.plot(w, floors, "--", color="0.5", label="floor")
        ax.set_xlabel("guidance scale")
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_classes(x: np.ndarray, labels: np.ndarray, reference: np.ndarray, path: Path, per_row: int = 10) -> Path:
    """A row per class: its first samples (images), or the samples coloured by the class they asked for
    over the data (points)."""
    from .plots import new_figure, save_figure, image_grid

    classes = np.unique(labels)
    if x.ndim == 4:
        rows = []
        for k in classes:
            mine = x[labels == k][:per_row]
            pad = np.full((per_row - len(mine), *x.shape[1:]), -1.0)
            rows.append(np.concatenate([mine, pad]))
        grid = image_grid(np.concatenate(rows), rows=len(classes), cols=per_row)
        fig = new_figure(1 + 0.6 * per_row, 0.6 * len(classes) + 0.8)
        ax = fig.add_subplot(1, 1, 1)
        ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        h = x.shape[2] + 1
        ax.set_yticks([h * i + h / 2 - 1 for i in range(len(classes))], [str(k) for k in classes])
        ax.set_xticks([])
        ax.set_ylabel("asked-for class")
    else:
        fig = new_figure(6, 5)
        ax = fig.add_subplot(1, 1, 1)
        flat, ref = x.reshape(len(x), -1), reference.reshape(len(reference), -1)
        ax.scatter(ref[:, 0], ref[:, 1], s=2, color="0.8", linewidths=0, rasterized=True)
        for k in classes:
            mine = flat[labels == k]
            ax.scatter(mine[:, 0], mine[:, 1], s=3, linewidths=0, label=f"class {k}", rasterized=True)
        ax.legend(markerscale=4, fontsize=8)
    ax.set_title("samples by the class they asked for")
    fig.tight_layout()
    return save_figure(fig, path)
