"""The model's likelihood of held-out data (metrics nll and vlb), in two ways:

* a normalized energy model (an objective with the `normalized` trait, such as nce) is its own
  density, log p(x) = -E(x) - log_z with log_z a parameter of the network: its nll is computed here
  from the run's EMA weights (sample.py's load_network, the weights it draws with);
* any other model's nll (probability-flow ODE) or vlb (a discrete chain's bound) is computed by the
  emitted likelihood.py, which the run's evaluation launches; its likelihood.json is read here.

The held-out points are the data's 'test' split (another seed than training). For Gaussian-mixture
data the mixture's own nll on the same points (nll_true) is reported beside it, so the gap shows.
nll is -log p / D in nats per dimension either way.
"""

from __future__ import annotations

import json

import numpy as np

MAX_POINTS = 10000  # held-out points a normalized model's nll averages over (its standard error is reported)


class LikelihoodFailed(Exception):
    """likelihood.py ran but left no readable result."""


def gmm_log_density(x: np.ndarray, weights, means, stds) -> np.ndarray:
    """log sum_k w_k N(x; mu_k, std_k^2 I), per row of x (n, d); the weights are normalized here."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    w = np.asarray(weights, dtype=np.float64)
    mu, var = np.asarray(means, dtype=np.float64), np.asarray(stds, dtype=np.float64) ** 2
    d = x.shape[1]
    sq = ((x[:, None, :] - mu[None]) ** 2).sum(-1)  # (n, K)
    log_joint = np.log(w / w.sum()) - 0.5 * sq / var - 0.5 * d * np.log(2 * np.pi * var)
    top = log_joint.max(1, keepdims=True)
    return (top + np.log(np.exp(log_joint - top).sum(1, keepdims=True)))[:, 0]


def mixture_of(common) -> tuple | None:
    """(weights, means, stds) of the run's Gaussian-mixture data (the mixture trait's names in its
    common.py), whose own density is known; else None."""
    if not hasattr(common, "GMM_WEIGHTS"):
        return None
    return common.GMM_WEIGHTS, common.GMM_MEANS, common.GMM_STDS


def true_nll(common, seed: int, n: int, mixture) -> float:
    """The mixture's own nll (nats per dimension) on the first n points of the test split: the points
    the model's nll is measured on, so a model with the exact score gives this number up to its error."""
    x = np.asarray(common.load_data("test", seed), dtype=np.float32)[:n]
    return float(-gmm_log_density(x, *mixture).mean() / x[0].size)


def model_log_density(program, x: np.ndarray) -> np.ndarray:
    """-E(x) - log_z of the run's EMA weights, per point (float64 numpy). program: the run's code
    (scorec.run.program.RunProgram); its sample.py loads the weights, log_z among them."""
    import torch

    net = program.network()
    model = program.common.ScoreModel(net)
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    with torch.no_grad():
        t = program.common.time_grid(1, xt.device)[-1].expand(len(xt))
        return (-model.energy(xt, t) - net.log_z).double().numpy()


def normalized_nll(program, seed: int) -> dict[str, float]:
    """{nll, nll_se, nll_n[, nll_true]} of a normalized energy model on up to MAX_POINTS of the test
    split, with the standard error of the mean."""
    common = program.common
    x = np.asarray(common.load_data("test", seed), dtype=np.float32)[:MAX_POINTS]
    nll = -model_log_density(program, x) / x[0].size
    out = {"nll": float(nll.mean()), "nll_se": float(nll.std(ddof=1) / np.sqrt(len(x))), "nll_n": len(x)}
    mixture = mixture_of(common)
    if mixture is not None:
        out["nll_true"] = true_nll(common, seed, len(x), mixture)
    return out


def program_likelihood(ev) -> dict[str, float]:
    """Launch the emitted likelihood.py (ev.launch: progress from its events) and read its
    likelihood.json: nll (or vlb) with its standard error, points, NFE and seconds; for a mixture's
    nll also nll_true on the same points."""
    likelihood = ev.ir.eval.likelihood
    ev.launch("likelihood", likelihood.n)
    path = ev.program.run_dir / "likelihood.json"
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LikelihoodFailed(f"likelihood.py left no readable {path}: {exc}") from None
    out = {key: value for key, value in result.items() if isinstance(value, (int, float))}
    mixture = mixture_of(ev.program.common)
    if mixture is not None and likelihood.metric == "nll":
        out["nll_true"] = true_nll(ev.program.common, ev.seed, int(out["nll_n"]), mixture)
    return out



def program_paragraph(run_dir, metrics: dict, metric: str, words) -> str | None:
    """The report's paragraph on a likelihood program's result: words(result, settings) gives the value
    and the method (its settings), followed by the points, the NFE and the time. None where
    likelihood.py did not compute `metric` for this metrics.json (a normalized model's own nll needs no
    program; a likelihood.json may be left over from another evaluation)."""
    from pathlib import Path

    try:
        result = json.loads((Path(run_dir) / "likelihood.json").read_text())
    except (OSError, ValueError):
        return None
    if metric not in result or metric not in metrics:
        return None
    settings = result.get("settings", {})
    value, method = words(result, settings)
    return (f"{value} on {result[metric + '_n']} held-out points (test split); {method}; "
            f"{result[metric + '_nfe']:.0f} NFE per batch of {settings.get('batch_size')}, "
            f"{result[metric + '_seconds']:.1f} s.")
