"""Evaluation of a run: metrics.json from samples.npz, the pictures and report.html.

The metrics are those the lowering chose (ir.eval.metrics: the listed ones and the automatic
ones that apply), each computed by its registered module (scorec/metrics/kinds/) with its floor;
the run's code is reached through one RunProgram (program.py), and a metric computed by an emitted
program of its own (likelihood.py) is launched through `launch` here, on `device`.
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
from .launch import read_events, run_program
from .program import RunProgram


def _reference(ir, program: RunProgram) -> np.ndarray:
    """reference.npz (sample.py writes it); rebuilt through the run's common.py when eval.n_reference
    changed since (scorec eval --set eval.n_reference=...)."""
    path = program.run_dir / "reference.npz"
    if path.is_file():
        reference = np.load(path)["samples"]
        if len(reference) == ir.eval.n_reference:
            return reference
    reference = np.asarray(program.common.reference_data(ir.eval.n_reference, ir.seed + 2))
    atomic_write(path, lambda fh: np.savez(fh, samples=reference))
    return reference


def evaluate(compiled: Compiled, run_dir: Path, console: Console | None = None, device: str = "auto") -> dict:
    """Metrics of samples.npz with their floors, written to metrics.json, plus pictures and report.html."""
    from .conditional import evaluate_conditional
    from .plots import plot_loss, plot_samples
    from .report import write_report

    console = console or Console(stderr=True)
    ir = compiled.ir
    program = RunProgram(run_dir)
    reference = _reference(ir, program)

    def launch(name: str, total: int) -> None:  # an emitted program of the run's, e.g. likelihood.py
        run_program(program.code_dir / f"{name}.py", run_dir, device, name, total, [], console)

    metrics, x, labels = sample_metrics(ir, program, run_dir / "samples.npz", reference, console, launch)
    _write_json(run_dir / "metrics.json", metrics)
    plot_samples(x, reference, run_dir / "samples.png", title=f"{ir.name}: {ir.sampler.kind}, {metrics['nfe']} NFE")
    # issue 16: a conditional model's pictures (a row per class) and its guidance scales (run/conditional.py)
    evaluate_conditional(ir, run_dir, x, labels, reference, metrics, log=console.print,
                         measure=lambda path: sample_metrics(ir, program, path, reference, console, launch,
                                                             of_the_model=False)[0])
    events = read_events(run_dir / "events.jsonl")
    if any("loss" in e for e in events):
        plot_loss(events, run_dir / "loss.png")
    write_report(run_dir, ir, metrics, program, console=console)
    return metrics


def sample_metrics(ir, program: RunProgram, path: Path, reference: np.ndarray, console: Console, launch,
                   of_the_model: bool = True) -> tuple[dict, np.ndarray, np.ndarray | None]:
    """The metrics of one samples file (samples.npz, or a guidance sweep's other scale: there
    `of_the_model` False leaves out the model's own metrics, nll and vlb, and the floors, which the
    scales share): (metrics, its finite samples, the labels they asked for or None)."""
    from ..metrics.evaluation import Evaluation, evaluate_metrics
    from ..metrics.features import FeatureError, MissingExtra
    from ..metrics.likelihood import LikelihoodFailed
    from ..metrics.registry import get, samples_of

    samples = np.load(path)
    x = samples["samples"]
    metrics: dict[str, float] = {"nfe": int(samples["nfe"])}
    # what the sampler reported (a Metropolis acceptance rate), averaged over samples
    metrics.update({key[len("stat_"):]: float(samples[key]) for key in samples.files if key.startswith("stat_")})
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    metrics["finite_fraction"] = float(finite.mean())
    x = x[finite]
    labels = samples["labels"][finite] if "labels" in samples.files else None  # what each sample asked for

    kind = samples_of(registry.get("data", ir.data.kind).traits)
    ev = Evaluation(x, reference, ir=ir, program=program, samples_kind=kind, seed=ir.seed, log=console.print,
                    launch=launch)
    names = [name for name in ir.eval.metrics if of_the_model or get(name).of_samples]
    try:
        metrics.update(evaluate_metrics(names, ev, floors=of_the_model))
    except (MissingExtra, FeatureError, LikelihoodFailed) as exc:
        raise RunFailed(str(exc)) from None
    if labels is not None and len(x) > 1:  # issue 16: label accuracy and per-class metrics (run/conditional.py)
        from .conditional import conditional_metrics

        metrics.update(conditional_metrics(ir, program, x, labels, log=console.print))
    return metrics, x, labels


def _write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
