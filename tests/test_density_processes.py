"""Processes `none` (the data density itself) and `ncsn` (a geometric noise ladder), and
the `ism` objective, against closed forms with the exact score (network: analytic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from emitted import build, compile_text

STD, MEAN = 0.5, 1.0
SPEC = f"""
scorec: 1
name: density
seed: 5
data: {{source: gmm, means: [[{MEAN}, {-MEAN}]], std: {STD}}}
process: PROCESS
model: {{parameterization: PARAM, network: {{kind: NETWORK, hidden: [16]}}}}
objective: {{kind: ism}}
train: {{steps: 1, compile: false}}
sample: {{sampler: langevin, steps: 300, step_size: STEP, n: 20000, denoise: false}}
"""


def spec(process="{kind: none}", param="energy", network="mlp", step=0.02):
    text = SPEC.replace("PROCESS", process).replace("PARAM", param).replace("STEP", str(step))
    text = text.replace("NETWORK", network)
    return text.replace(", hidden: [16]", "") if network == "analytic" else text


def test_ism_at_the_exact_score_equals_its_minimum(tmp_path):
    """For N(m, s^2 I) data in d = 2 and the exact score, 1/2 |s|^2 + tr(grad s) has mean
    d / (2 s^2) - d / s^2 = -1/2 E|s|^2 = -d / (2 s^2); checked within 4 standard errors."""
    trained = build(compile_text(spec()), tmp_path / "mlp")  # its loss_fn, fed the exact energy
    exact = build(compile_text(spec(network="analytic")), tmp_path / "exact")
    model = trained.common.ScoreModel(exact.common.build_network())
    torch.manual_seed(0)
    n = 20000
    x0 = torch.tensor([MEAN, -MEAN]) + STD * torch.randn(n, 2)
    per_sample = [trained.train.loss_fn(model, x0[k:k + 1000], torch.Generator().manual_seed(k)).item()
                  for k in range(0, n, 1000)]
    loss = float(np.mean(per_sample))
    # |s|^2 = |x - m|^2 / s^4 ~ chi2_2 / s^2: the per-sample loss has std 1/(2 s^2) sqrt(2 d)
    se = 0.5 / STD**2 * math.sqrt(2 * 2) / math.sqrt(n)
    print(f"ism at the exact score: {loss:.4f} (closed form {-1 / STD**2:.4f}, se {se:.4f})")
    assert abs(loss - (-2 / (2 * STD**2))) < 4 * se, (loss, -1 / STD**2, se)


def test_ism_refuses_data_above_its_dimension_limit():
    from scorec.core.diagnostics import SpecErrors, SpecError

    text = spec().replace("objective: {kind: ism}", "objective: {kind: ism, max_dim: 1}")
    with pytest.raises((SpecError, SpecErrors)) as info:
        compile_text(text)
    assert "2 backward passes" in str(info.value) and "dsm" not in str(info.value)


@pytest.mark.parametrize("process, var_shift", [("{kind: none}", 0.0),
                                                ("{kind: ncsn, sigma_min: 0.1, sigma_max: 5.0, levels: 8}", 0.1**2)])
def test_langevin_on_the_exact_density_has_the_closed_form_variance(process, var_shift, tmp_path):
    """MCMC at the grid's last time: the data density itself (none) or its smallest NCSN level
    (variance STD^2 + SIGMA_MIN^2). With the exact energy, unadjusted Langevin's stationary
    variance is v / (1 - eps / (2 v)) (see test_sampler_langevin)."""
    step = 0.02
    programs = build(compile_text(spec(process=process, network="analytic", step=step)), tmp_path)
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    x = np.load(tmp_path / "samples.npz")["samples"].astype(np.float64)
    target = STD**2 + var_shift
    biased = target / (1 - step / (2 * target))
    n = len(x)
    se = biased * math.sqrt(2 / (n - 1))
    assert np.all(np.abs(x.var(axis=0, ddof=1) - biased) < 4 * se), (x.var(axis=0), biased)
    assert np.all(np.abs(x.mean(axis=0) - [MEAN, -MEAN]) < 4 * math.sqrt(biased / n))


def test_none_starts_chains_at_the_data_moments_and_the_network_has_no_time(tmp_path):
    programs = build(compile_text(spec()), tmp_path)
    assert programs.common.PRIOR_MEAN == (MEAN, -MEAN) and programs.common.PRIOR_STD == pytest.approx(STD)
    assert not hasattr(programs.common, "TimeEmbedding")
    net = programs.common.build_network()
    x = torch.randn(5, 2)
    assert net(x, torch.zeros(5)).shape == (5,)  # a scalar energy per sample


def test_ncsn_ladder_is_geometric_and_dsm_weights_by_sigma2(tmp_path):
    text = spec(process="{kind: ncsn, sigma_min: 0.01, sigma_max: 10.0, levels: 4}").replace(
        "objective: {kind: ism}", "objective: {kind: dsm}")
    programs = build(compile_text(text), tmp_path)
    sigmas = programs.common.sigma(torch.arange(4))
    assert torch.allclose(sigmas, torch.tensor([10.0, 1.0, 0.1, 0.01]), rtol=1e-5)
    # the default (standard) loss of an energy is |sigma grad E - z|^2: sigma_i^2 |s + z / sigma_i|^2, NCSN's
    weighted = build(compile_text(text.replace("{kind: dsm}", "{kind: dsm, weighting: sigma2}")), tmp_path / "w")
    assert "sigma(t) ** 2" in (tmp_path / "w" / "code" / "train.py").read_text()
    x0 = torch.randn(64, 2)
    losses = [p.train.loss_fn(p.common.ScoreModel(p.common.build_network()), x0, torch.Generator().manual_seed(0))
              for p in (programs, weighted)]
    assert torch.isfinite(losses[0]) and torch.allclose(losses[0], losses[1], rtol=1e-5)
