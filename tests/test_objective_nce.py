"""The `nce` objective (noise-contrastive estimation with a learned log Z) and the held-out
log-likelihood it makes measurable.

* A Gaussian energy E(x) = sum_i (x_i - m_i)^2 / (2 v_i) (learned m, log v) trained by the emitted
  loss on Gaussian data N(m, s^2 I) learns log_z = log Z = d log(2 pi s^2) / 2 of the data (within 0.03
  nats: the data's own sampling error in log Z is about 0.007, the optimiser's noise is averaged out
  over the last steps), and m, v.
* The noise Gaussian is the data's mean and covariance (full or diagonal); the state round-trips.
* A short training run with an mlp energy on a 2-D mixture, through `scorec run`'s own path
  (metrics.json): held-out nll within 0.05 nats/dim (0.1 nats a point) of the mixture's own on the same points,
  and mode-share TV <= 0.1 (sampled by MALA from the prior).
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import torch

from emitted import build, compile_text
from scorec.metrics.likelihood import gmm_log_density

STD, MEAN = 0.5, [1.0, -1.0]
GAUSSIAN_SPEC = f"""
scorec: 1
name: nce-gaussian
seed: 0
data: {{source: gmm, means: [{MEAN}], std: {STD}, n: 20000}}
process: {{kind: none}}
model: {{parameterization: energy, network: {{kind: mlp, hidden: [8]}}}}
objective: {{kind: nce, noise_ratio: 4}}
train: {{steps: 1, compile: false}}
sample: {{sampler: mala, steps: 10, n: 10, denoise: false}}
"""


class GaussianEnergy(torch.nn.Module):
    """E(x) = sum_i (x_i - m_i)^2 / (2 exp(log_v_i)): unnormalized; its log Z = sum_i log(2 pi v_i) / 2."""

    def __init__(self, dim):
        super().__init__()
        self.m = torch.nn.Parameter(torch.zeros(dim))
        self.log_v = torch.nn.Parameter(torch.zeros(dim))

    def forward(self, x, t):
        return (0.5 * (x - self.m) ** 2 / self.log_v.exp()).sum(1)


def gaussian_programs(tmp_path, overrides=()):
    programs = build(compile_text(GAUSSIAN_SPEC, list(overrides)), tmp_path)
    return programs, torch.as_tensor(programs.common.load_data("train", 0))


def test_nce_learns_log_z_of_a_gaussian(tmp_path):
    programs, data = gaussian_programs(tmp_path)
    train = programs.train
    net = GaussianEnergy(2)
    generator = torch.Generator().manual_seed(1)
    train.setup_objective(net, data, generator)
    model = programs.common.ScoreModel(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    tail = []
    for step in range(1500):
        batch = data[torch.randint(len(data), (1000,), generator=generator)]
        loss = train.loss_fn(model, batch, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= 1000:
            tail.append([net.log_z.item(), *net.m.tolist(), *net.log_v.exp().tolist()])
    log_z, m0, m1, v0, v1 = np.mean(tail, axis=0)
    true_log_z = math.log(2 * math.pi * STD**2)  # d = 2
    own_log_z = 0.5 * math.log(2 * math.pi * v0) + 0.5 * math.log(2 * math.pi * v1)
    print(f"nce on Gaussian data: log_z {log_z:.4f}, true {true_log_z:.4f}, the learned energy's own "
          f"{own_log_z:.4f}; m ({m0:.3f}, {m1:.3f}), v ({v0:.3f}, {v1:.3f})")
    assert abs(log_z - true_log_z) < 0.03
    assert abs(log_z - own_log_z) < 0.03  # normalized: exp(-E - log_z) integrates to 1
    assert abs(m0 - MEAN[0]) < 0.02 and abs(m1 - MEAN[1]) < 0.02
    assert abs(v0 / STD**2 - 1) < 0.05 and abs(v1 / STD**2 - 1) < 0.05


def test_noise_is_the_datas_gaussian_and_its_state_round_trips(tmp_path):
    for covariance in ("full", "diagonal"):
        programs, data = gaussian_programs(tmp_path / covariance, [f"objective.covariance={covariance}"])
        train = programs.train
        net = programs.common.build_network()
        train.setup_objective(net, data, torch.Generator().manual_seed(0))
        x = data.double()
        cov = torch.cov(x.T)
        if covariance == "diagonal":
            cov = torch.diag(torch.diagonal(cov))
        assert torch.allclose(train.NOISE_GAUSSIAN.mean, x.mean(0), atol=1e-6)
        fitted = train.NOISE_GAUSSIAN.scale_tril @ train.NOISE_GAUSSIAN.scale_tril.T
        assert torch.allclose(fitted, cov, rtol=1e-4, atol=1e-5)
        # log_z starts at q's entropy, log Z of the data's Gaussian + d/2
        assert abs(net.log_z.item() - (0.5 * torch.logdet(2 * math.pi * math.e * cov)).item()) < 1e-4
        noise = train.NOISE_GAUSSIAN.sample(50000, torch.Generator().manual_seed(1))
        assert torch.allclose(noise.double().mean(0), x.mean(0), atol=4 * STD / math.sqrt(50000))
        state = train.objective_state_dict()
        train.NOISE_GAUSSIAN.mean = train.NOISE_GAUSSIAN.mean + 1.0
        train.load_objective_state_dict(state)
        assert torch.allclose(train.NOISE_GAUSSIAN.q.loc.double(), x.mean(0), atol=1e-6)


WEIGHTS = [0.6, 0.3, 0.1]
MEANS = [[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]]
GMM_SPEC = f"""
scorec: 1
name: nce-gmm
seed: 0
data: {{source: gmm, weights: {WEIGHTS}, means: {MEANS}, std: 0.6, n: 10000}}
process: {{kind: none}}
model: {{parameterization: energy, network: {{kind: mlp, hidden: [64, 64]}}}}
objective: {{kind: nce, noise_ratio: 4}}
train: {{steps: 2000, batch_size: 256, lr: 1.0e-3, ema: 0.99, compile: false, log_every: 100,
        checkpoint_every: 1000}}
sample: {{sampler: mala, steps: 300, step_size: 0.15, n: 4000, batch_size: 4000, denoise: false}}
eval: {{metrics: [swd]}}
"""


def test_nce_on_a_mixture_is_normalized_and_learns_the_mode_shares(tmp_path):
    from rich.console import Console

    from scorec.pipeline import compile_spec
    from scorec.run.jobs import run_spec

    started = time.time()
    path = tmp_path / "spec.yaml"
    path.write_text(GMM_SPEC)
    metrics = run_spec(compile_spec(path), tmp_path / "run", device="cpu", console=Console(quiet=True))
    assert metrics == json.loads((tmp_path / "run" / "metrics.json").read_text())
    # nll: -log p / D in nats per dimension, as the probability-flow ODE reports it (D = 2)
    gap = metrics["nll"] - metrics["nll_true"]
    rng = np.random.default_rng(0)
    k = rng.choice(3, size=200000, p=WEIGHTS)
    truth = np.asarray(MEANS)[k] + 0.6 * rng.standard_normal((200000, 2))
    entropy = -gmm_log_density(truth, WEIGHTS, MEANS, [0.6] * 3).mean() / 2
    print(f"nce: held-out nll {metrics['nll']:.4f} nats/dim (true {metrics['nll_true']:.4f}, "
          f"gap {gap:+.4f}, se {metrics['nll_se']:.4f}; mixture entropy {entropy:.4f}), "
          f"mode_tv {metrics['mode_tv']:.4f}, {time.time() - started:.0f} s")
    assert abs(metrics["nll_true"] - entropy) < 4 * metrics["nll_se"]  # it is the truth
    assert abs(gap) < 0.05  # 0.1 nats per point
    assert metrics["mode_tv"] <= 0.1
