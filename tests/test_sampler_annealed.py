"""Annealed Langevin over an NCSN ladder, where MCMC chains start (`init`), and the MALA corrector
of `pc`, judged with the exact score and energy (network: analytic) on 2-D mixtures.

* Far modes: three modes 5 apart with uneven weights. Plain MCMC on the data density
  (langevin, mala) started from the prior keeps each chain in the mode whose basin it starts
  in, so the mode shares are the prior's basin masses, not the weights (TV about 0.37 measured);
  annealed Langevin at the same number of score evaluations mixes at the large noise levels
  and recovers the weights (TV about 0.01, SW1 below the noise floor measured).
* init: uniform draws inside its box (the data's range by default), data starts at data points
  plus noise; every MCMC sampler starts its chains with it.
* pc with the MALA corrector on the exact energy reaches the noise floor and reports its
  acceptance; at a large SNR, where the unadjusted langevin corrector is visibly biased, the
  Metropolis correction keeps the samples right at a lower acceptance.

SW1 is judged against the noise floor (the mean SW1 between independent true sample sets of
the same size); TV is between mode shares and the mixture weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emitted import build, compile_text
from scorec.metrics import mode_shares, sliced_wasserstein, total_variation

FAR_WEIGHTS = [0.5, 0.35, 0.15]
FAR_MEANS = [[-5.0, 0.0], [5.0, 0.0], [0.0, 0.0]]
FAR_STD = 0.4
N = 10000
LEVELS, STEPS_PER_LEVEL = 15, 30  # 450 score evaluations per sample (+1 to denoise)
BUDGET = LEVELS * STEPS_PER_LEVEL

HEAD = """
scorec: 1
name: annealed
seed: 3
data: {{source: gmm, weights: {weights}, means: {means}, std: {std}}}
"""
FAR = HEAD.format(weights=FAR_WEIGHTS, means=FAR_MEANS, std=FAR_STD)
LADDER = f"process: {{kind: ncsn, sigma_min: 0.05, sigma_max: 10.0, levels: {LEVELS}}}\n"
DENSITY = "process: {kind: none}\n"


def model(param: str) -> str:
    return f"model: {{parameterization: {param}, network: {{kind: analytic}}}}\n"


def true_samples(n, seed, weights=FAR_WEIGHTS, means=FAR_MEANS, std=FAR_STD):
    rng = np.random.default_rng(seed)
    k = rng.choice(len(weights), size=n, p=weights)
    return np.asarray(means)[k] + std * rng.standard_normal((n, 2))


def noise_floor(n, **mixture) -> float:
    return float(np.mean([sliced_wasserstein(true_samples(n, 10 + 2 * i, **mixture),
                                             true_samples(n, 11 + 2 * i, **mixture), seed=7) for i in range(3)]))


def run(text, tmp_path):
    programs = build(compile_text(text), tmp_path)
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    return np.load(tmp_path / "samples.npz")


def judge(x, n, **mixture):
    means, weights = np.asarray(mixture.get("means", FAR_MEANS)), mixture.get("weights", FAR_WEIGHTS)
    sw = sliced_wasserstein(x, true_samples(n, 1, **mixture), seed=7)
    return sw, noise_floor(n, **mixture), total_variation(mode_shares(x, means), np.asarray(weights))


# ----------------------------------------------------------------------------------- far modes

def test_annealed_langevin_recovers_the_weights_of_far_modes(tmp_path):
    sample = (f"sample: {{sampler: annealed_langevin, steps_per_level: {STEPS_PER_LEVEL}, step_size: 5.0e-4, "
              f"n: {N}}}\n")
    out = run(FAR + LADDER + model("score") + sample, tmp_path)
    assert int(out["nfe"]) == BUDGET + 1
    sw, floor, tv = judge(out["samples"], N)
    print(f"annealed_langevin: SW1 {sw:.4f} (floor {floor:.4f}), mode TV {tv:.4f}")  # 0.0369 (0.0586), 0.0120
    assert tv <= 0.03, f"mode-share TV {tv:.4f}"
    assert sw <= 1.5 * floor, f"SW1 {sw:.4f} > 1.5 x floor {floor:.4f}"


@pytest.mark.parametrize("sampler", ["langevin", "mala"])
def test_plain_mcmc_from_the_prior_keeps_the_prior_s_mode_shares(sampler, tmp_path):
    """Same score budget as the annealed test; the chains never cross the barriers between modes."""
    steps = BUDGET + 1 if sampler == "langevin" else BUDGET  # mala spends one more on its start
    sample = f"sample: {{sampler: {sampler}, steps: {steps}, step_size: 0.05, n: {N}, denoise: false}}\n"
    out = run(FAR + DENSITY + model("energy") + sample, tmp_path)
    assert int(out["nfe"]) == BUDGET + 1
    sw, floor, tv = judge(out["samples"], N)
    print(f"{sampler}: SW1 {sw:.4f} (floor {floor:.4f}), mode TV {tv:.4f}")  # langevin 0.372, mala 0.388
    assert tv >= 0.2, f"{sampler} mixed between far modes: TV {tv:.4f}"
    assert sw > 5 * floor


def test_annealed_langevin_is_the_same_chain_under_every_parameterization(tmp_path):
    """eps, score and energy are conversions of one exact score: the same chains, to rounding."""
    sample = "sample: {sampler: annealed_langevin, steps_per_level: 10, step_size: 5.0e-4, n: 500}\n"
    results = {param: run(FAR + LADDER + model(param) + sample, tmp_path / param)["samples"]
               for param in ("eps", "score", "energy")}
    for param in ("eps", "energy"):
        close = np.all(np.abs(results[param] - results["score"]) < 1e-3, axis=1).mean()
        assert close >= 0.99, f"{param}: only {close:.3f} of the chains match the score parameterization's"


def test_annealed_langevin_is_the_default_sampler_of_a_ladder_and_needs_one():
    from scorec.core.diagnostics import SpecError, SpecErrors

    ir = compile_text(FAR + LADDER + model("score") + "sample: {n: 10}\n")
    assert ir.sampler.kind == "annealed_langevin" and ir.sampler.steps == LEVELS * 100
    with pytest.raises((SpecError, SpecErrors)) as info:
        compile_text(FAR + "process: {kind: vp}\n" + model("score") + "sample: {sampler: annealed_langevin}\n")
    assert "needs an NCSN ladder" in str(info.value) and "process kind: ncsn" in str(info.value)
    # steps, when given, is the budget: whole steps per level (at least one), winning over steps_per_level
    for steps, per_level in [(45, 3), (50, 3), (7, 1)]:
        ir = compile_text(FAR + LADDER + model("score") +
                          f"sample: {{sampler: annealed_langevin, steps: {steps}, steps_per_level: 30}}\n")
        assert (ir.sampler.steps_per_level, ir.sampler.steps, ir.sampler.nfe) == \
            (per_level, LEVELS * per_level, LEVELS * per_level + 1)


def test_annealed_langevin_step_sizes_and_final_denoiser(tmp_path):
    """One level's update is x + a_i s + sqrt(2 a_i) z with a_i = eps sigma_i^2 / sigma_L^2: with a
    score that is zero, the chain's spread grows by exactly 2 sum_i a_i T per coordinate."""
    text = FAR + "process: {kind: ncsn, sigma_min: 0.1, sigma_max: 1.0, levels: 3}\n" + model("score") + (
        "sample: {sampler: annealed_langevin, steps_per_level: 4, step_size: 0.01, n: 10}\n")
    programs = build(compile_text(text), tmp_path)
    s = programs.sample

    class ZeroScore:
        nfe, stats = 0, {}

        def score(self, x, t):
            self.nfe += 1
            return torch.zeros_like(x)

    x0 = torch.zeros(200000, 2, dtype=torch.float64)
    x = s.sample(ZeroScore(), x0, torch.Generator().manual_seed(0))
    sigmas = [1.0, 0.1**0.5, 0.1]
    expected = sum(2 * 0.01 * (si / 0.1) ** 2 * 4 for si in sigmas)
    assert x.var().item() == pytest.approx(expected, rel=0.01)
    # the final denoiser at the smallest level: x + sigma_L^2 s(x, sigma_L) (Tweedie)
    model_ = s.ScoreModel(s.load_network(str(tmp_path), torch.device("cpu")))
    y = torch.tensor([[0.3, -0.2]])
    last = torch.tensor([2])
    assert torch.allclose(model_.x0(y, last), y + 0.1**2 * model_.score(y, last), atol=1e-6)


# ----------------------------------------------------------------------------------------- init

def chain_start_of(sample: str, tmp_path, n=20000):
    programs = build(compile_text(FAR + DENSITY + model("energy") + f"sample: {sample}\n"), tmp_path)
    s = programs.sample
    generator = torch.Generator().manual_seed(0)
    x = s.prior_sample((n, 2), generator, torch.device("cpu"))
    return s, s.chain_start(x, generator)


def test_init_uniform_draws_inside_its_box(tmp_path):
    _, x = chain_start_of("{sampler: langevin, init: uniform, init_low: -1.0, init_high: 2.0}", tmp_path / "box")
    assert x.min() >= -1.0 and x.max() <= 2.0
    n = x.numel()
    assert abs(x.mean().item() - 0.5) < 4 * (3 / 12**0.5) / n**0.5  # U(-1, 2): mean 0.5, std 3/sqrt(12)
    assert x.var().item() == pytest.approx(9 / 12, rel=0.02)
    s, x = chain_start_of("{sampler: langevin, init: uniform}", tmp_path / "range")
    pool = torch.as_tensor(s.reference_data(s.INIT_POOL, s.SEED + 3))
    low, high = pool.amin(0), pool.amax(0)  # the data's range: about -6.5..6.5 and -1.6..1.6 here
    assert torch.all(x >= low) and torch.all(x <= high)
    assert torch.allclose(x.amin(0), low, atol=0.01) and torch.allclose(x.amax(0), high, atol=0.01)


def test_init_data_starts_at_data_points_plus_noise(tmp_path):
    _, x = chain_start_of("{sampler: mala, init: data, init_noise: 0.3}", tmp_path)
    x = x.numpy().astype(np.float64)
    assert total_variation(mode_shares(x, np.asarray(FAR_MEANS)), np.asarray(FAR_WEIGHTS)) < 0.03
    nearest = np.asarray(FAR_MEANS)[mode_shares_index(x)]
    spread = ((x - nearest) ** 2).mean()
    assert spread == pytest.approx(FAR_STD**2 + 0.3**2, rel=0.05)  # each coordinate: std^2 + noise^2


def mode_shares_index(x):
    return ((x[:, None, :] - np.asarray(FAR_MEANS)[None]) ** 2).sum(-1).argmin(1)


@pytest.mark.parametrize("sampler, process, param", [
    ("langevin", DENSITY, "energy"), ("mala", DENSITY, "energy"), ("mh", DENSITY, "energy"),
    ("annealed_langevin", LADDER, "score")])
def test_every_mcmc_sampler_starts_its_chains_with_init(sampler, process, param, tmp_path):
    """A box far from the data and one tiny step: the samples are still in the box."""
    steps = "steps_per_level: 1, step_size: 1.0e-12" if sampler == "annealed_langevin" else (
        "steps: 1, proposal_std: 1.0e-6" if sampler == "mh" else "steps: 1, step_size: 1.0e-8")
    box = "init: uniform, init_low: 20.0, init_high: 21.0"
    sample = f"sample: {{sampler: {sampler}, {steps}, {box}, n: 300, denoise: false}}\n"
    x = run(FAR + process + model(param) + sample, tmp_path)["samples"]
    assert np.all((x > 19.99) & (x < 21.01)), (x.min(), x.max())


def test_init_options_that_do_not_apply_are_located_errors():
    from scorec.core.diagnostics import SpecError, SpecErrors

    for sample, fragment in [("{sampler: mh, init_noise: 0.1}", "init_noise applies to init: data"),
                             ("{sampler: mh, init: uniform, init_low: 1.0}", "needs both init_low and init_high"),
                             ("{sampler: mh, init: uniform, init_low: 1.0, init_high: 0.0}", "must be smaller")]:
        with pytest.raises((SpecError, SpecErrors)) as info:
            compile_text(FAR + DENSITY + model("energy") + f"sample: {sample}\n")
        assert fragment in str(info.value)


# ----------------------------------------------------------------------------- pc + mala corrector

PC_WEIGHTS, PC_MEANS, PC_STD, PC_N = [0.6, 0.3, 0.1], [[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], 0.3, 10000
PC_MIXTURE = dict(weights=PC_WEIGHTS, means=PC_MEANS, std=PC_STD)
PC_HEAD = HEAD.format(**PC_MIXTURE) + "process: {kind: vp, beta_min: 0.1, beta_max: 20.0}\n"


@pytest.mark.parametrize("corrector, snr", [("mala", 0.16), ("mala", 1.0), ("langevin", 1.0)])
def test_pc_with_the_mala_corrector_reaches_the_noise_floor(corrector, snr, tmp_path):
    sample = f"sample: {{sampler: pc, steps: 200, n: {PC_N}, corrector: {{kind: {corrector}, snr: {snr}}}}}\n"
    text = PC_HEAD + model("energy") + sample
    out = run(text, tmp_path)
    sw, floor, tv = judge(out["samples"], PC_N, **PC_MIXTURE)
    acceptance = float(out["stat_acceptance"]) if "stat_acceptance" in out.files else None
    print(f"pc + {corrector} (snr {snr}): SW1 {sw:.4f} (floor {floor:.4f}), TV {tv:.4f}, acceptance {acceptance}")
    if corrector == "langevin":  # the unadjusted corrector at this step: SW1 about 9 x the floor
        assert sw > 3 * floor
        return
    # per step the predictor, the corrector's start and its proposal; then the denoiser: counted and done
    assert compile_text(text).sampler.nfe == int(out["nfe"]) == 200 * (1 + 2) + 1
    assert sw <= 2 * floor, f"SW1 {sw:.4f} > 2 x floor {floor:.4f}"
    assert tv <= 0.02, f"mode-share TV {tv:.4f}"
    assert 0 < acceptance <= 1
    if snr == 1.0:
        assert acceptance < 0.6  # the correction is at work (0.30 measured; 0.995 at snr 0.16)
    assert float(out["stat_corrector_proposals"]) == 200


def test_mala_corrector_needs_an_energy():
    from scorec.core.diagnostics import SpecError, SpecErrors

    with pytest.raises((SpecError, SpecErrors)) as info:
        compile_text(PC_HEAD + model("eps") + "sample: {sampler: pc, corrector: {kind: mala}}\n")
    assert "corrector 'mala' needs an energy" in str(info.value)
    assert "use parameterization: energy" in str(info.value)


def test_eps_is_refused_without_noise_and_score_is_not():
    from scorec.core.diagnostics import SpecError, SpecErrors

    with pytest.raises((SpecError, SpecErrors)) as info:
        compile_text(FAR + DENSITY + model("eps") + "sample: {sampler: langevin}\n")
    assert "has no noise (sigma = 0)" in str(info.value) and "energy or score" in str(info.value)
    assert compile_text(FAR + DENSITY + model("score") + "sample: {sampler: langevin}\n").parameterization.kind \
        == "score"
