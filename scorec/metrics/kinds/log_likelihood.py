"""log_likelihood: the held-out log-likelihood of a normalized energy model, log p = -E - log_z
(likelihood.py), in nats per point, with its standard error and, for a mixture, the data's own
log-density on the same points. Computed for every trained normalized model."""

from ..registry import metric


@metric("log_likelihood", description="held-out log-likelihood of a normalized model (nats per point)",
        needs={"objective": ("normalized",)}, trained=True, automatic=True, floor=False)
def log_likelihood(ev):
    import numpy as np

    from ..likelihood import held_out_log_densities

    common = ev.program.common  # a mixture's own density: the mixture trait's names in the run's code
    mixture = (common.GMM_WEIGHTS, common.GMM_MEANS, common.GMM_STDS) if hasattr(common, "GMM_WEIGHTS") else None
    log_p, log_p_true = held_out_log_densities(ev.program, ev.seed, mixture)
    out = {"log_likelihood": float(log_p.mean()), "log_likelihood_se": float(log_p.std() / np.sqrt(len(log_p)))}
    if log_p_true is not None:
        out["log_likelihood_true"] = float(log_p_true.mean())
    return out
