"""Each process's closed-form kernel m(t), s(t) against Monte-Carlo simulation of its forward dynamics.

Continuous processes: x_0 = X0 fixed, the forward SDE dx = f dt + g dw simulated by
Euler-Maruyama (coefficients at mid-step times) with fine steps in float64 (its O(dt) bias is far below the tolerance);
the sample mean must match alpha(t) X0 and the sample std sigma(t), each within 3
standard errors (SE of a mean: s / sqrt(n); of a std: s / sqrt(2 n)).
Discrete processes: the Markov chain x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z itself.
"""

from __future__ import annotations

import math

import pytest
import torch

from emitted import build, compile_text

X0 = 1.5
N_PATHS = 20000
BASE = """
scorec: 1
name: kernel
data: {{source: gmm, means: [[0.0]], std: 0.1}}
process: {process}
model: {{network: {{kind: analytic}}}}
sample: {{sampler: {sampler}}}
"""

CONTINUOUS = {
    "vp": "{kind: vp, beta_min: 0.1, beta_max: 20.0}",
    "subvp": "{kind: subvp, beta_min: 0.1, beta_max: 20.0}",
    "ve": "{kind: ve, sigma_min: 0.01, sigma_max: 10.0}",
}
DISCRETE = {
    "linear": "{kind: discrete, schedule: linear, timesteps: 1000}",
    "cosine": "{kind: discrete, schedule: cosine, timesteps: 1000}",
    "quadratic": "{kind: discrete, schedule: quadratic, timesteps: 1000}",
    "sigmoid": "{kind: discrete, schedule: sigmoid, timesteps: 1000}",
    "expression": '{kind: discrete, schedule: "0.02 * (i / N)**2 + 1e-4", timesteps: 1000}',
    "alpha_bar": '{kind: discrete, schedule: {alpha_bar: "1 - (i / N)**0.5 * 0.9999"}, timesteps: 1000}',
}


def _assert_within_3se(x: torch.Tensor, mean: float, std: float, where: str) -> None:
    n = x.numel()
    se_mean, se_std = std / math.sqrt(n), std / math.sqrt(2 * n)
    assert abs(x.mean().item() - mean) < 3 * se_mean + 1e-12, f"{where}: mean {x.mean().item():.5f} vs {mean:.5f}"
    assert abs(x.std().item() - std) < 3 * se_std + 1e-12, f"{where}: std {x.std().item():.5f} vs {std:.5f}"


@pytest.mark.parametrize("kind", sorted(CONTINUOUS))
def test_continuous_kernel_matches_forward_sde(kind, tmp_path):
    programs = build(compile_text(BASE.format(process=CONTINUOUS[kind], sampler="em")), tmp_path)
    c = programs.common
    checkpoints = [0.05, 0.2, 0.5, 1.0]
    steps = 2000
    gen = torch.Generator().manual_seed(1)
    x = torch.full((N_PATHS, 1), X0, dtype=torch.float64)
    dt = 1.0 / steps
    next_check = 0
    for k in range(steps):
        t = torch.full((N_PATHS,), (k + 0.5) * dt, dtype=torch.float64)  # midpoint in time
        g = c.diffusion(t)[:, None]
        x = x + c.drift(x, t) * dt + g * math.sqrt(dt) * torch.randn(x.shape, generator=gen, dtype=torch.float64)
        t_now = (k + 1) * dt
        if next_check < len(checkpoints) and abs(t_now - checkpoints[next_check]) < dt / 2:
            tt = torch.tensor([t_now], dtype=torch.float64)
            _assert_within_3se(x, c.alpha(tt).item() * X0, c.sigma(tt).item(), f"{kind} at t={t_now}")
            next_check += 1
    assert next_check == len(checkpoints)


@pytest.mark.parametrize("schedule", sorted(DISCRETE))
def test_discrete_kernel_matches_markov_chain(schedule, tmp_path):
    programs = build(compile_text(BASE.format(process=DISCRETE[schedule], sampler="ancestral")), tmp_path)
    c = programs.common
    betas = c.BETAS
    gen = torch.Generator().manual_seed(2)
    x = torch.full((N_PATHS,), X0, dtype=torch.float64)
    checks = {10, 100, 500, 1000}
    for i in range(1, c.N_STEPS + 1):
        x = (1 - betas[i]).sqrt() * x + betas[i].sqrt() * torch.randn(x.shape, generator=gen, dtype=torch.float64)
        if i in checks:
            idx = torch.tensor(i)
            _assert_within_3se(x, c.alpha(idx).item() * X0, c.sigma(idx).item(), f"{schedule} at i={i}")


def test_linear_schedule_is_ddpm_linspace(tmp_path):
    c = build(compile_text(BASE.format(process=DISCRETE["linear"], sampler="ancestral")), tmp_path).common
    expected = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    assert torch.allclose(c.BETAS[1:], expected, rtol=0, atol=1e-12)
    assert c.BETAS[0] == 0 and c.ALPHA_BAR[0] == 1


def test_cosine_schedule_closed_form(tmp_path):
    c = build(compile_text(BASE.format(process=DISCRETE["cosine"], sampler="ancestral")), tmp_path).common
    s, n = 0.008, 1000
    f = lambda i: math.cos((i / n + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for i in (1, 10, 250, 500, 900):
        assert c.ALPHA_BAR[i].item() == pytest.approx(f(i) / f(0), rel=1e-5)
    assert c.BETAS.max().item() <= 0.999 + 1e-12


@pytest.mark.parametrize("kind", sorted(CONTINUOUS))
def test_kernel_is_consistent_with_sde_coefficients(kind, tmp_path):
    """d(sigma^2)/dt = 2 f' sigma^2 + g^2 and d(log alpha)/dt = f' (f = f' x): the ODEs of the kernel."""
    c = build(compile_text(BASE.format(process=CONTINUOUS[kind], sampler="em")), tmp_path).common
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    h = 1e-6
    coef = c.drift(torch.ones(len(t), 1, dtype=torch.float64), t)[:, 0]
    dvar = (c.sigma(t + h) ** 2 - c.sigma(t - h) ** 2) / (2 * h)
    dlog_alpha = (torch.log(c.alpha(t + h)) - torch.log(c.alpha(t - h))) / (2 * h)
    assert torch.allclose(dvar, 2 * coef * c.sigma(t) ** 2 + c.diffusion(t) ** 2, rtol=1e-5, atol=1e-8)
    assert torch.allclose(dlog_alpha, coef, rtol=1e-5, atol=1e-8)


def _betas(process: str, tmp_path):
    return build(compile_text(BASE.format(process=process, sampler="ancestral")), tmp_path).common.BETAS[1:]


def test_quadratic_and_sigmoid_schedules(tmp_path):
    quad = _betas(DISCRETE["quadratic"], tmp_path / "q")
    expected = torch.linspace(1e-4 ** 0.5, 0.02 ** 0.5, 1000, dtype=torch.float64) ** 2
    assert torch.allclose(quad, expected, rtol=0, atol=1e-12)
    sig = _betas(DISCRETE["sigmoid"], tmp_path / "s")
    expected = torch.sigmoid(torch.linspace(-6, 6, 1000, dtype=torch.float64)) * (0.02 - 1e-4) + 1e-4
    assert torch.allclose(sig, expected, rtol=0, atol=1e-12)


def test_schedule_expressions_equal_the_named_ones(tmp_path):
    linear = _betas('{kind: discrete, schedule: "1e-4 + (0.02 - 1e-4) * (i - 1) / (N - 1)"}', tmp_path / "a")
    assert torch.allclose(linear, _betas(DISCRETE["linear"], tmp_path / "b"), rtol=0, atol=1e-15)
    cosine = _betas('{kind: discrete, schedule: {alpha_bar: "cos((i / N + 0.008) / 1.008 * pi / 2)**2"}}',
                    tmp_path / "c")
    assert torch.allclose(cosine, _betas(DISCRETE["cosine"], tmp_path / "d"), rtol=0, atol=1e-15)
