"""The likelihood metrics of a run (nll, vlb): run the emitted likelihood.py, read its
likelihood.json into metrics.json, and say in the report how they were computed.

The program evaluates the trained model itself on held-out data (its docstring states the units
and conventions); scorec never imports the model into the compiler.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from ..components import registry
from . import RunFailed
from .launch import run_program


def mixture_of(ir) -> tuple | None:
    """(weights, means, stds) of Gaussian-mixture data, whose own density is known; else None."""
    if "mixture" in registry.get("data", ir.data.kind).traits:
        return ir.data.weights, ir.data.means, ir.data.stds
    return None


def held_out_likelihood(ir, run_dir: Path, device: str, console: Console) -> dict:
    """Run the emitted likelihood.py (progress bar from its events) and read its likelihood.json:
    nll (or vlb) with its standard error, NFE, seconds; for a mixture also nll_true, the data's own
    nll on the same points, which a model with the exact score matches."""
    from ..metrics.images import import_common
    from ..metrics.likelihood import true_nll

    run_program(run_dir / "code" / "likelihood.py", run_dir, device, "likelihood", ir.eval.likelihood.n, [], console)
    try:
        result = json.loads((run_dir / "likelihood.json").read_text())
    except (OSError, ValueError) as exc:
        raise RunFailed(f"likelihood.py left no readable {run_dir / 'likelihood.json'}: {exc}") from None
    out = {key: value for key, value in result.items() if isinstance(value, (int, float))}
    mixture = mixture_of(ir)
    if mixture is not None and ir.eval.likelihood.metric == "nll":
        out["nll_true"] = true_nll(import_common(run_dir / "code"), ir.seed, int(out["nll_n"]), mixture)
    return out


def likelihood_summary(run_dir: Path, metrics: dict) -> str | None:
    """One paragraph on the likelihood metrics, from likelihood.json: the value with its standard error,
    the points, the method's settings (solver and tolerances, divergence estimator; the bound's variance
    and decoder), the NFE and the time; None when the run computed none."""
    try:
        result = json.loads((Path(run_dir) / "likelihood.json").read_text())
    except (OSError, ValueError):
        return None
    metric = "nll" if "nll" in result else "vlb"
    if metric not in metrics:
        return None  # left over from an earlier evaluation
    settings = result.get("settings", {})
    if metric == "nll":
        value = f"nll = {result['nll']:.4g} ± {result['nll_se']:.2g} nats/dim"
        if "bpd" in result:
            value += (f" ({result['bpd']:.4g} ± {result['bpd_se']:.2g} bits/dim of the discrete levels, uniformly "
                      "dequantized: score_sde's convention)")
        method = (f"probability-flow ODE by {settings.get('solver')}, rtol {settings.get('rtol'):g}, "
                  f"atol {settings.get('atol'):g}, {settings.get('divergence')} divergence")
        if settings.get("divergence") == "hutchinson":
            method += f" ({settings.get('probes')} {settings.get('noise')} probe(s) per point)"
    else:
        value = f"vlb = {result['vlb']:.4g} ± {result['vlb_se']:.2g} bits/dim"
        method = (f"variational bound over {settings.get('steps')} steps, {settings.get('variance')} reverse "
                  f"variance, {settings.get('decoder')} decoder")
    text = (f"{value} on {result[metric + '_n']} held-out points (test split); {method}; "
            f"{result[metric + '_nfe']:.0f} NFE per batch of {settings.get('batch_size')}, "
            f"{result[metric + '_seconds']:.1f} s.")
    if "nll_true" in metrics:
        text += f" The data's own nll on the same points: {metrics['nll_true']:.4g} nats/dim."
    return text
