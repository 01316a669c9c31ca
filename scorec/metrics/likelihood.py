"""Held-out nll of a normalized energy model (an objective with the `normalized` trait, such as
nce: log p(x) = -E(x) - log_z, log_z a parameter of the network), and a Gaussian mixture's own.

The run's own common.py builds the network; its EMA weights (log_z among them) come from
checkpoints/last.pt, the weights sample.py draws with. The held-out points are the data's
'test' split (another seed than training). For Gaussian-mixture data the mixture's own
log-density on the same points is reported beside it, so the gap is visible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_POINTS = 10000  # held-out points averaged over (the mean's standard error is reported)


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


def model_log_density(common, run_dir: Path, x: np.ndarray) -> np.ndarray:
    """-E(x) - log_z of the run's EMA weights, per point (float64 numpy)."""
    import torch

    from .images import import_common

    net = common.build_network()
    net.register_parameter("log_z", torch.nn.Parameter(torch.zeros(())))  # the normalized trait's contract
    runtime = import_common(run_dir / "code", "runtime")  # the run's own loader checks the checkpoint
    runtime.load_ema_weights(net, str(run_dir), torch.device("cpu"), common.TRAINING_HASH)
    model = common.ScoreModel(net.eval().requires_grad_(False))
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    with torch.no_grad():
        t = common.time_grid(1, xt.device)[-1].expand(len(xt))
        return (-model.energy(xt, t) - net.log_z).double().numpy()


def held_out_nll(common, run_dir: Path, seed: int, mixture=None) -> dict[str, float]:
    """{nll, nll_se, nll_n[, nll_true]}: -log p / D in nats per dimension (the same units as the
    probability-flow ODE's nll), averaged over up to MAX_POINTS of the test split, with the standard
    error of the mean. mixture: (weights, means, stds) of gmm data, or None."""
    x = np.asarray(common.load_data("test", seed), dtype=np.float32)[:MAX_POINTS]
    nll = -model_log_density(common, Path(run_dir), x) / x[0].size
    out = {"nll": float(nll.mean()), "nll_se": float(nll.std(ddof=1) / np.sqrt(len(x))), "nll_n": len(x)}
    if mixture is not None:
        out["nll_true"] = true_nll(common, seed, len(x), mixture)
    return out


def true_nll(common, seed: int, n: int, mixture) -> float:
    """The mixture's own nll (nats per dimension) on the first n points of the test split: the points
    likelihood.py evaluates, so a model with the exact score gives this number up to its solver error."""
    x = np.asarray(common.load_data("test", seed), dtype=np.float32)[:n]
    return float(-gmm_log_density(x, *mixture).mean() / x[0].size)
