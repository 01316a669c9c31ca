"""nll: the model's negative log-likelihood of held-out data, -log p / D in nats per dimension.

Through the probability-flow ODE (the emitted likelihood.py, for a continuous process with a Gaussian
kernel: eval.nll says how), or, for an energy model with a learned normaliser (objective trait
`normalized`), its own -E - log_z, computed wherever such a model is trained. Which one, or the
located error saying why this model has none, is decided by scorec/lower/likelihood.py. For
Gaussian-mixture data nll_true is the mixture's own on the same points."""

from ..registry import metric


def describe(run_dir, metrics: dict) -> str | None:
    from ..likelihood import program_paragraph

    def words(result, settings):
        value = f"nll = {result['nll']:.4g} ± {result['nll_se']:.2g} nats/dim"
        if "bpd" in result:
            value += (f" ({result['bpd']:.4g} ± {result['bpd_se']:.2g} bits/dim of the discrete levels, uniformly "
                      "dequantized: score_sde's convention)")
        method = (f"probability-flow ODE by {settings.get('solver')}, rtol {settings.get('rtol'):g}, "
                  f"atol {settings.get('atol'):g}, {settings.get('divergence')} divergence")
        if settings.get("divergence") == "hutchinson":
            method += f" ({settings.get('probes')} {settings.get('noise')} probe(s) per point)"
        return value, method

    text = program_paragraph(run_dir, metrics, "nll", words)
    if text is not None and "nll_true" in metrics:
        text += f" The data's own nll on the same points: {metrics['nll_true']:.4g} nats/dim."
    return text


@metric("nll", description="the model's nll of held-out data (probability-flow ODE, or a normalized model's own)",
        automatic={"objective": ("normalized",), "run": ("trained",)}, of_samples=False,
        program="likelihood", report=describe, heading="Likelihood")
def nll(ev):
    from ..likelihood import normalized_nll, program_likelihood

    likelihood = ev.ir.eval.likelihood
    if likelihood is not None and likelihood.metric == "nll":
        return program_likelihood(ev)
    return normalized_nll(ev.program, ev.seed)
