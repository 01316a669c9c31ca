"""Processes edm and flow, and discrete chains with zero_terminal_snr.

* Kernels against Monte-Carlo simulation of their forward SDEs (Euler-Maruyama in float64, fine
  steps, coefficients at mid-step times): sample mean and std within 3 standard errors of
  alpha(t) X0 and sigma(t) (edm starts at X0 + SIGMA_MIN n: sigma(0) = SIGMA_MIN; flow's SDE is
  simulated to t = 0.9, short of its singularity at t = 1).
* Training-time laws: EDM's log sigma ~ N(P_MEAN, P_STD^2), flow's logit-normal and uniform t,
  the SDEs' (vp, subvp, sde with tabulated kernel) log-SNR uniform on [lambda(1), lambda(T_EPS)]
  and their uniform t: moments within 4 standard errors (n = 40000), and for the uniform laws
  a Kolmogorov-Smirnov distance under its 1% critical value 1.63 / sqrt(n).
* A zero-terminal-SNR chain: alpha_bar_N = 0, alpha_bar_1 kept, sqrt(alpha_bar) an affine
  function of the original's, decreasing.
"""

from __future__ import annotations

import math

import pytest
import torch

from emitted import build, compile_text
from test_kernels import N_PATHS, X0, _assert_within_3se

BASE = """
scorec: 1
name: processes
data: {{source: gmm, means: [[0.0]], std: 0.1}}
process: {process}
model: {{parameterization: {param}, network: {{kind: analytic}}}}
sample: {{sampler: {sampler}}}
"""
N = 40000


def common(process, tmp_path, param="eps", sampler="em"):
    return build(compile_text(BASE.format(process=process, param=param, sampler=sampler)), tmp_path).common


@pytest.mark.parametrize("process,start,checkpoints", [
    ("{kind: edm, sigma_min: 0.002, sigma_max: 80.0}", 0.0, [0.1, 0.5, 1.0]),
    ("{kind: flow}", 0.001, [0.1, 0.5, 0.9]),
])
def test_kernel_matches_forward_sde(process, start, checkpoints, tmp_path):
    c = common(process, tmp_path)
    gen = torch.Generator().manual_seed(1)
    t0 = torch.tensor([start], dtype=torch.float64)
    x = c.alpha(t0).item() * X0 + c.sigma(t0).item() * torch.randn(N_PATHS, 1, generator=gen, dtype=torch.float64)
    steps = 2000
    dt = (checkpoints[-1] - start) / steps
    for k in range(steps):
        t = torch.full((N_PATHS,), start + (k + 0.5) * dt, dtype=torch.float64)
        x = x + c.drift(x, t) * dt + c.diffusion(t)[:, None] * math.sqrt(dt) * torch.randn(
            x.shape, generator=gen, dtype=torch.float64)
        now = start + (k + 1) * dt
        if any(abs(now - p) < dt / 2 for p in checkpoints):
            tt = torch.tensor([now], dtype=torch.float64)
            _assert_within_3se(x, c.alpha(tt).item() * X0, c.sigma(tt).item(), f"{process} at t={now:.3f}")


def _moments_within_4se(values, mean, std, what):
    n = values.numel()
    assert abs(values.mean().item() - mean) < 4 * std / math.sqrt(n), f"{what}: mean {values.mean().item():.4f}"
    assert abs(values.std().item() - std) < 4 * std / math.sqrt(2 * n), f"{what}: std {values.std().item():.4f}"


def test_edm_trains_on_log_normal_noise_levels(tmp_path):
    c = common("{kind: edm, p_mean: -1.2, p_std: 1.2}", tmp_path)
    t = c.draw_time(N, torch.Generator().manual_seed(2), "cpu").double()
    _moments_within_4se(torch.log(c.sigma(t)), -1.2, 1.2, "log sigma")
    assert torch.allclose(c.time_input(t), 0.25 * torch.log(c.sigma(t)))  # c_noise
    grid = c.time_grid(10, "cpu").double()
    assert torch.allclose(c.sigma(grid[[0, -1]]), torch.tensor([80.0, 0.002], dtype=torch.float64))


def _uniform_within_ks(values, low, high, what):
    """Moments of U[low, high] within 4 se, and the KS distance to its CDF under the 1% critical value."""
    _moments_within_4se(values, (low + high) / 2, (high - low) / math.sqrt(12), what)
    u = ((values - low) / (high - low)).sort().values
    n = len(u)
    ks = torch.maximum(torch.arange(1, n + 1) / n - u, u - torch.arange(n) / n).max().item()
    assert ks < 1.63 / math.sqrt(n), f"{what}: KS distance {ks:.4f}"


WOBBLY_SDE = ('{kind: sde, equation: "dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) * (1 + 0.5 * sin(7 * t)) dw", '
              'where: {beta: "0.1 + 19.9 * t**2 + sin(3 * t)"}}')  # tabulated kernel (no closed form)


@pytest.mark.parametrize("process", ["{kind: vp}", "{kind: subvp, beta_max: 10.0, t_eps: 1.0e-4}", WOBBLY_SDE])
def test_sdes_train_uniformly_in_log_snr(process, tmp_path):
    c = common(process, tmp_path)
    t = c.draw_time(N, torch.Generator().manual_seed(5), "cpu").double()
    assert t.min() >= c.T_EPS * (1 - 1e-6) and t.max() <= 1.0
    high, low = c.log_signal_to_noise(torch.tensor([c.T_EPS, 1.0], dtype=torch.float64)).tolist()
    _uniform_within_ks(c.log_signal_to_noise(t), low, high, f"{process}: log-SNR")


def test_sdes_uniform_training_times(tmp_path):
    c = common("{kind: vp, training_time: uniform, t_eps: 0.01}", tmp_path)
    _uniform_within_ks(c.draw_time(N, torch.Generator().manual_seed(6), "cpu").double(), 0.01, 1.0, "uniform t")


def test_flow_training_times(tmp_path):
    c = common("{kind: flow, training_time: logit_normal, logit_mean: 0.5, logit_std: 0.8}", tmp_path / "logit")
    t = c.draw_time(N, torch.Generator().manual_seed(3), "cpu").double()
    _moments_within_4se(torch.logit(t), 0.5, 0.8, "logit t")  # clamping to [1e-3, 1 - 1e-3] moves ~1e-13 of it
    c = common("{kind: flow, t_eps: 0.01}", tmp_path / "uniform")
    t = c.draw_time(N, torch.Generator().manual_seed(4), "cpu").double()
    _moments_within_4se(t, 0.5, 0.98 / math.sqrt(12), "uniform t")
    assert t.min() >= 0.01 and t.max() <= 0.99
    grid = c.time_grid(10, "cpu")
    assert grid[0].item() == pytest.approx(0.99) and grid[-1].item() == pytest.approx(0.01)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_zero_terminal_snr_rescales_the_chain(schedule, tmp_path):
    plain = common(f"{{kind: discrete, schedule: {schedule}}}", tmp_path / "plain", "v", "ancestral")
    zero = common(f"{{kind: discrete, schedule: {schedule}, zero_terminal_snr: true}}", tmp_path / "zero",
                  "v", "ancestral")
    old, new = plain.ALPHA_BAR.sqrt(), zero.ALPHA_BAR.sqrt()
    assert new[-1].item() == 0.0 and new[0].item() == 1.0
    assert new[1].item() == pytest.approx(old[1].item(), rel=1e-12)
    assert (new[1:] < new[:-1]).all()
    slope = (new[1] - new[-1]) / (old[1] - old[-1])  # affine in the original's sqrt(alpha_bar), i = 1..N
    assert torch.allclose(new[1:], new[-1] + slope * (old[1:] - old[-1]), atol=1e-12)
    assert zero.sigma(torch.tensor([1000])).item() == 1.0
