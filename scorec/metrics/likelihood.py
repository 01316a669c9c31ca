"""Held-out log-likelihood of a normalized energy model (an objective with the `normalized` trait,
such as nce: log p(x) = -E(x) - log_z, log_z a parameter of the network).

The run's own sample.py loads the network with its EMA weights (log_z among them) from
checkpoints/last.pt, the weights it draws with. The held-out points are the data's
'test' split (another seed than training). For Gaussian-mixture data the mixture's own
log-density on the same points is reported beside it, so the gap is visible.
"""

from __future__ import annotations

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


def held_out_log_densities(program, seed: int, mixture=None) -> tuple[np.ndarray, np.ndarray | None]:
    """log p(x) of the model, and of the mixture (weights, means, stds) where the data is one (else
    None), on up to MAX_POINTS points of the test split, in nats per point."""
    x = np.asarray(program.common.load_data("test", seed), dtype=np.float32)[:MAX_POINTS]
    return model_log_density(program, x), (None if mixture is None else gmm_log_density(x, *mixture))
