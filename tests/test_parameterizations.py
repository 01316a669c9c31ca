"""Every parameterization converts to the one convention samplers and losses use (DESIGN §7).

* With the exact model of a single Gaussian N(MU, V0 I) (network: analytic), ScoreModel.x0 is
  E[x_0 | x_t] = MU + alpha V0 / (alpha^2 V0 + sigma^2) (x - alpha MU) and .score is
  -(x - alpha MU) / (alpha^2 V0 + sigma^2) in closed form, on every process: to 1e-9 in
  float64 (continuous time; only rounding separates them), 1e-5 on a discrete chain (float32
  tables), where a score computed from D also carries D's rounding divided by sigma^2.
* The exact velocity E[u | x_t] = alpha' D + sigma' E[z | x_t] of process flow is (x - D) / t.
* prediction_target inverts the conversions: a network that outputs the target for the
  (x_0, z) behind x_t makes .x0 return x_0 and .eps return z (the standard losses are losses
  of the denoiser).
"""

from __future__ import annotations

import pytest
import torch

from emitted import build, compile_text

MU, V0 = [1.0, -0.5], 0.49
SPEC = """
scorec: 1
name: conversions
seed: 3
data: {{source: gmm, weights: [1.0], means: [{mu}], std: 0.7}}
process: {process}
model: {{parameterization: {param}, network: {{kind: analytic}}}}
sample: {{sampler: {sampler}, steps: 10, n: 100}}
"""
CONTINUOUS = {
    "vp": "{kind: vp}",
    "ve": "{kind: ve}",
    "sde-shifted": ('{kind: sde, equation: "dx = (-0.5 * beta(t) * x + beta(t)) dt + sqrt(beta(t)) dw",'
                    ' where: {beta: "0.1 + 19.9 * t"}}'),
    "edm": "{kind: edm}",
    "flow": "{kind: flow}",
}
DISCRETE = {"linear": "{kind: discrete}", "zero-terminal-snr": "{kind: discrete, zero_terminal_snr: true}"}
PARAMS = ["eps", "score", "x0", "v", "edm", "velocity", "{kind: edm, sigma_data: 2.0}"]
TERMINAL_SAFE = ["x0", "v", "edm"]


def cases():
    for process in CONTINUOUS:
        for param in PARAMS:
            yield process, param
    for process in DISCRETE:
        for param in (TERMINAL_SAFE if process == "zero-terminal-snr" else PARAMS[:5]):
            yield process, param


def programs(process, param, tmp_path):
    text = CONTINUOUS.get(process) or DISCRETE[process]
    sampler = "ancestral" if process in DISCRETE else "em"
    return build(compile_text(SPEC.format(mu=MU, process=text, param=param, sampler=sampler)), tmp_path).common


def times(process):
    if process in DISCRETE:
        return torch.tensor([1, 10, 500, 999]), torch.float32, 1e-5
    return torch.tensor([0.02, 0.3, 0.7, 0.99], dtype=torch.float64), torch.float64, 1e-9


@pytest.mark.parametrize("process,param", list(cases()))
def test_exact_denoiser_and_score_in_closed_form(process, param, tmp_path):
    c = programs(process, param, tmp_path)
    model = c.ScoreModel(c.build_network())
    t, dtype, tol = times(process)
    x = torch.randn(len(t), 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).to(dtype)
    a, s = c.alpha(t).double()[:, None], c.sigma(t).double()[:, None]
    shift = c.mean_shift(t).double()[:, None] if hasattr(c, "mean_shift") else 0.0
    mu = torch.tensor(MU, dtype=torch.float64)
    centred = x.double() - shift - a * mu
    denoiser = mu + a * V0 / (a**2 * V0 + s**2) * centred
    score = -centred / (a**2 * V0 + s**2)
    # float32 (a discrete chain): a score from D, (alpha D - x) / sigma^2, carries D's rounding (~1e-7 |x|)
    # divided by sigma^2 (1e-4 at i = 1)
    rounding = 0.0 if dtype == torch.float64 else 1e-6 * (x.double().abs() + 1) / s**2
    assert (model.x0(x, t).double() - denoiser).abs().max() < tol
    assert ((model.score(x, t).double() - score).abs() / score.abs().clamp(min=1) - rounding).max() < tol
    assert ((model.eps(x, t).double() + s * score).abs() - s * rounding).max() < tol
    assert model.nfe == 3  # one network evaluation per conversion


def test_exact_flow_velocity_is_x_minus_d_over_t(tmp_path):
    c = programs("flow", "velocity", tmp_path)
    net = c.build_network()
    t = torch.tensor([0.01, 0.25, 0.5, 0.999], dtype=torch.float64)
    x = torch.randn(4, 2, dtype=torch.float64)
    denoiser = c.ScoreModel(net).x0(x, t)
    assert torch.allclose(net(x, t), (x - denoiser) / t[:, None], rtol=0, atol=1e-9)
    mu = torch.tensor(MU, dtype=torch.float64)
    a, s = (1 - t)[:, None], t[:, None]
    closed = mu + a * V0 / (a**2 * V0 + s**2) * (x - a * mu)
    assert torch.allclose(denoiser, closed, rtol=0, atol=1e-9)


# (score's prediction is eps = -sigma score, not its network's output)
@pytest.mark.parametrize("process,param", [c for c in cases() if c[1] != "score" and (
    c[0] in ("vp", "sde-shifted", "edm", "flow") or c[0] in DISCRETE)])
def test_prediction_target_inverts_the_conversions(process, param, tmp_path):
    c = programs(process, param, tmp_path)
    t, dtype, tol = times(process)
    gen = torch.Generator().manual_seed(1)
    x0 = torch.randn(len(t), 2, generator=gen, dtype=torch.float64).to(dtype)
    z = torch.randn(len(t), 2, generator=gen, dtype=torch.float64).to(dtype)
    a, s = c.bcast(c.alpha(t), x0), c.bcast(c.sigma(t), x0)
    x_t = a * x0 + s * z + (c.bcast(c.mean_shift(t), x0) if hasattr(c, "mean_shift") else 0)
    target = c.prediction_target(x0, z, t)
    model = c.ScoreModel(lambda x, tt: target)  # a network that knows the answer
    scale = 1e3 if dtype == torch.float32 else 1.0  # eps from x_0 amplifies float32 rounding by alpha / sigma
    assert (model.x0(x_t, t) - x0).abs().max() < tol * scale
    assert (model.eps(x_t, t) - z).abs().max() < tol * scale
    assert (model.prediction(x_t, t) - target).abs().max() == 0
