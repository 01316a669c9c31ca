"""The `ssm` objective (sliced score matching) against closed forms and against `ism` and `dsm`.

The models are hand-built exact or linear scores of Gaussian data in d = 3 with a full
covariance, plugged into the emitted ScoreModel (so the energy path, -grad E with
create_graph, is the emitted one). Monte-Carlo checks compare a batch-mean estimate with
its target within K standard errors, the SE estimated from the spread of independent
batch means.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from emitted import build, compile_text

K = 4.5  # standard errors allowed (a dozen comparisons per test: false alarm below 1e-4 each)
DIM = 3
MU = torch.tensor([0.5, -1.0, 0.25], dtype=torch.float64)
CHOL = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.4, 0.5]], dtype=torch.float64)
SIGMA = CHOL @ CHOL.T  # the data's covariance: full, eigenvalues from about 0.2 to 1.6
PRECISION = torch.linalg.inv(SIGMA)

SPEC = """
scorec: 1
name: ssm
seed: 1
data: {source: gmm, means: [[0.0, 0.0, 0.0]], std: 1.0}
process: PROCESS
model: {parameterization: PARAM, network: {kind: mlp, hidden: [16]}}
objective: OBJECTIVE
train: {steps: 1, compile: false}
sample: {sampler: langevin, steps: 5, step_size: 0.01, n: 10}
"""
NONE, VP, NCSN = "{kind: none}", "{kind: vp}", "{kind: ncsn, sigma_min: 0.05, sigma_max: 2.0, levels: 4}"


def programs(tmp_path, objective, process=NONE, param="score"):
    text = SPEC.replace("PROCESS", process).replace("PARAM", param).replace("OBJECTIVE", objective)
    return build(compile_text(text), tmp_path / f"p{len(list(tmp_path.iterdir()))}")


class LinearScore(nn.Module):
    """s(x) = A x + b, whatever the time (score parameterization)."""

    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = nn.Parameter(a.float().clone()), nn.Parameter(b.float().clone())

    def forward(self, x, t):
        return x @ self.a.T + self.b


class QuadraticEnergy(nn.Module):
    """E(x) = 1/2 x^T M x - c^T x, so s(x) = -1/2 (M + M^T) x + c (energy parameterization)."""

    def __init__(self, m, c):
        super().__init__()
        self.m, self.c = nn.Parameter(m.float().clone()), nn.Parameter(c.float().clone())

    def forward(self, x, t):
        return 0.5 * ((x @ self.m) * x).sum(1) - x @ self.c


def exact_net(param):
    """The exact score of N(MU, SIGMA): -P (x - MU), as either parameterization's network."""
    if param == "energy":
        return QuadraticEnergy(PRECISION, PRECISION @ MU)
    return LinearScore(-PRECISION, PRECISION @ MU)


def gaussian_batches(count, size, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [(MU + torch.randn(size, DIM, generator=gen, dtype=torch.float64) @ CHOL.T).float() for _ in range(count)]


def batch_losses(loss_fn, model, batches, seed=100):
    return np.array([loss_fn(model, x0, torch.Generator().manual_seed(seed + k)).item()
                     for k, x0 in enumerate(batches)])


def within(estimates, target):
    """(mean, se, |mean - target| < K se) of independent batch estimates."""
    mean, se = float(np.mean(estimates)), float(np.std(estimates, ddof=1) / math.sqrt(len(estimates)))
    return mean, se, abs(mean - target) < K * se


SSM_VARIANTS = [
    "{kind: ssm}",
    "{kind: ssm, distribution: rademacher}",
    "{kind: ssm, variance_reduction: true}",
    "{kind: ssm, distribution: rademacher, variance_reduction: true, projections: 3}",
]


@pytest.mark.parametrize("param", ["energy", "score"])
@pytest.mark.parametrize("objective", SSM_VARIANTS)
def test_ssm_at_the_exact_score_equals_its_minimum(objective, param, tmp_path):
    """For N(MU, SIGMA) data and the exact score s = -P (x - MU), E[v^T grad s v + 1/2 (v^T s)^2]
    = -tr P + 1/2 tr(P SIGMA P) = -1/2 tr P = -1/2 E|s|^2, ssm's minimum (ism's too)."""
    p = programs(tmp_path, objective, param=param)
    model = p.common.ScoreModel(exact_net(param))
    target = -0.5 * float(torch.trace(PRECISION))
    mean, se, ok = within(batch_losses(p.train.loss_fn, model, gaussian_batches(40, 2500)), target)
    print(f"{objective} {param}: {mean:.4f} +- {se:.4f} (closed form {target:.4f})")
    assert ok, (mean, se, target)
    assert se < 0.015 * abs(target)  # tight enough that a wrong constant would show


def linear_model(param, seed=3):
    """A non-optimal score, linear in x (parameters drawn at random, away from the exact one)."""
    gen = torch.Generator().manual_seed(seed)
    a = -torch.eye(DIM) + 0.4 * torch.randn(DIM, DIM, generator=gen)
    b = torch.randn(DIM, generator=gen)
    return LinearScore(a, b) if param == "score" else QuadraticEnergy(-a, b)


def test_ssm_and_ism_have_the_closed_form_expectation_at_a_wrong_score(tmp_path):
    """s(x) = A x + b on N(MU, SIGMA): both losses have mean 1/2 (|A MU + b|^2 + tr(A SIGMA A^T)) + tr A."""
    net = linear_model("score")
    a, b = net.a.detach().double(), net.b.detach().double()
    target = float(0.5 * ((a @ MU + b) ** 2).sum() + 0.5 * torch.trace(a @ SIGMA @ a.T) + torch.trace(a))
    batches = gaussian_batches(40, 500)
    for objective in ("{kind: ism}", *SSM_VARIANTS):
        p = programs(tmp_path, objective)
        mean, se, ok = within(batch_losses(p.train.loss_fn, p.common.ScoreModel(net), batches), target)
        print(f"{objective}: {mean:.4f} +- {se:.4f} (closed form {target:.4f})")
        assert ok, (objective, mean, se, target)
        assert se < 0.05 * abs(float(torch.trace(a)))  # a trace term dropped or mis-scaled would show


@pytest.mark.parametrize("process", [VP, NCSN])
def test_ssm_expectation_equals_ism_on_a_noising_process(process, tmp_path):
    """On samples x_t of p_t (weighted by sigma(t)^2) ssm and ism draw the same t and z from the
    same generator, so their batch losses differ only by the slice's noise: the paired
    difference has mean 0."""
    ism, ssm = programs(tmp_path, "{kind: ism}", process), programs(tmp_path, "{kind: ssm}", process)
    model = ism.common.ScoreModel(linear_model("score"))
    batches = gaussian_batches(40, 2500)
    diff = batch_losses(ssm.train.loss_fn, model, batches) - batch_losses(ism.train.loss_fn, model, batches)
    mean, se, ok = within(diff, 0.0)
    # the size of the term the slice estimates, E_t sigma(t)^2 tr A: a slice off by a factor would show
    t = ism.common.draw_time(100000, torch.Generator().manual_seed(0), "cpu")
    trace_term = float((ism.common.sigma(t) ** 2).mean() * torch.trace(model.net.a.detach()))
    print(f"{process}: ssm - ism = {mean:.4f} +- {se:.4f} (trace term {trace_term:.4f})")
    assert ok, (mean, se)
    assert se < 0.05 * abs(trace_term)


SHIFTED_SPEC = """
scorec: 1
name: ssm-shifted
seed: 2
data: {source: gmm, weights: [0.6, 0.3, 0.1], means: [[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], std: 0.3}
process:
  kind: sde
  equation: "dx = (-0.5 * beta(t) * x + beta(t)) dt + sqrt(beta(t)) dw"
  where: {beta: "0.1 + 19.9 * t"}
model: {parameterization: score, network: {kind: NETWORK}}
objective: {kind: ssm}
sample: {sampler: em, steps: 10, n: 10}
"""


@pytest.mark.parametrize("objective", ["ssm", "ism"])
def test_on_a_shifted_sde_the_loss_samples_p_t_with_its_mean_shift(objective, tmp_path):
    """A drift with an offset shifts the kernel's mean by mean_shift(t). At the exact score of
    p_t (analytic GMM) ssm's and ism's loss equals -1/2 E_t sigma(t)^2 E|s(x_t, t)|^2 only if
    their x_t are samples of p_t, shift included (without it: +1.09 against -0.80); the right
    side is estimated here from independent draws."""
    text = SHIFTED_SPEC.replace("{kind: ssm}", f"{{kind: {objective}}}")
    p = build(compile_text(text.replace("NETWORK", "mlp")), tmp_path / "trainable")  # its loss_fn
    exact = build(compile_text(text.replace("NETWORK", "analytic")), tmp_path / "exact")
    c = p.common
    model = c.ScoreModel(exact.common.build_network())
    data = torch.as_tensor(np.asarray(c.reference_data(40 * 500, 3)), dtype=torch.float32)
    batches = list(data.split(500))
    losses = batch_losses(p.train.loss_fn, model, batches)
    minima = []
    for k, x0 in enumerate(batches):
        gen = torch.Generator().manual_seed(10_000 + k)
        t = c.draw_time(len(x0), gen, "cpu")
        x = c.bcast(c.alpha(t), x0) * x0 + c.bcast(c.mean_shift(t), x0) + c.bcast(c.sigma(t), x0) * torch.randn(
            x0.shape, generator=gen)
        minima.append(float((-0.5 * c.sigma(t) ** 2 * (model.score(x, t) ** 2).sum(1)).mean()))
    diff, se = float(np.mean(losses) - np.mean(minima)), math.hypot(
        np.std(losses, ddof=1), np.std(minima, ddof=1)) / math.sqrt(len(batches))
    print(f"shifted sde: {objective} {np.mean(losses):.4f}, -1/2 E sigma^2 |s|^2 {np.mean(minima):.4f}, se {se:.4f}")
    assert abs(diff) < K * se, (diff, se)
    assert se < 0.05 * abs(np.mean(minima))


def mean_gradients(loss_fn, make_model, batches, seed=100):
    """Per-batch gradients of the loss with respect to the model's parameters, flattened: (batches, params)."""
    rows = []
    for k, x0 in enumerate(batches):
        model, net = make_model()
        loss = loss_fn(model, x0, torch.Generator().manual_seed(seed + k))
        grads = torch.autograd.grad(loss, list(net.parameters()))
        rows.append(torch.cat([g.flatten() for g in grads]).double().numpy())
    return np.array(rows)


def assert_same_expectation(a, b, scale_b=1.0, label=""):
    """Paired per-batch gradients: every coordinate of mean(a - scale_b b) within K SE of 0,
    and the gradient itself many SEs away from 0 (the agreement is not two zeros)."""
    diff = a - scale_b * b
    mean, se = diff.mean(0), diff.std(0, ddof=1) / math.sqrt(len(diff))
    print(f"{label}: max |mean diff| / se = {np.max(np.abs(mean) / se):.2f}; "
          f"|grad| / max se = {np.linalg.norm(a.mean(0)) / se.max():.0f}")
    assert np.all(np.abs(mean) <= K * se), (mean, se)  # = where a coordinate agrees exactly
    assert np.linalg.norm(a.mean(0)) > 10 * se.max()


@pytest.mark.parametrize("param", ["score", "energy"])
@pytest.mark.parametrize("process", [NONE, NCSN])
def test_ism_and_ssm_gradients_agree_in_expectation(process, param, tmp_path):
    """ssm is ism with the trace replaced by an unbiased slice: on the same x (same generator),
    their gradients with respect to a linear score's parameters agree in expectation."""
    ism, ssm = programs(tmp_path, "{kind: ism}", process, param), programs(tmp_path, "{kind: ssm}", process, param)

    def make():
        net = linear_model(param)
        return ism.common.ScoreModel(net), net

    batches = gaussian_batches(60, 200)
    assert_same_expectation(mean_gradients(ism.train.loss_fn, make, batches),
                            mean_gradients(ssm.train.loss_fn, make, batches), label=f"ism/ssm {process} {param}")


def test_dsm_and_ism_gradients_agree_on_the_noised_density(tmp_path):
    """On an NCSN ladder both weigh level i by sigma_i^2 and see the same x_i = x_0 + sigma_i z.
    Stein's lemma gives E|s(x_i) + z / sigma_i|^2 = 2 E[1/2 |s|^2 + tr grad s] + const; dsm
    averages over the d coordinates, so grad dsm = (2 / d) grad ism in expectation."""
    ism, dsm = programs(tmp_path, "{kind: ism}", NCSN), programs(tmp_path, "{kind: dsm}", NCSN)

    def make():
        net = linear_model("score")
        return ism.common.ScoreModel(net), net

    batches = gaussian_batches(60, 200)
    assert_same_expectation(mean_gradients(ism.train.loss_fn, make, batches),
                            mean_gradients(dsm.train.loss_fn, make, batches), scale_b=DIM / 2, label="ism/dsm ncsn")


SSM_2 = "{kind: ssm, projections: 2, distribution: rademacher}"


@pytest.mark.parametrize("process, param, objective, compiled", [
    (NONE, "energy", SSM_2, "false"), (VP, "eps", SSM_2, "false"), (VP, "score", SSM_2, "true"),
    (VP, "energy", "{kind: ism}", "true"), (VP, "energy", "{kind: dsm}", "true")])
def test_emitted_training_through_a_gradient_runs(process, param, objective, compiled, tmp_path):
    """A few steps of the emitted train.py: losses logged and finite, a checkpoint written. Under
    train.compile the part differentiated twice (ism's and ssm's score and its derivatives, an
    energy's gradient) runs eagerly (torch.compile has no double backward): without that, the
    first backward raises."""
    text = (SPEC.replace("PROCESS", process).replace("PARAM", param).replace("OBJECTIVE", objective)
            .replace("train: {steps: 1, compile: false}",
                     f"train: {{steps: 6, log_every: 2, batch_size: 64, compile: {compiled}}}"))
    p = build(compile_text(text), tmp_path)
    p.train.main(["--out", str(tmp_path), "--device", "cpu"])
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in events if e["event"] == "train"]
    assert len(losses) == 3 and np.all(np.isfinite(losses)), losses
    assert (tmp_path / "checkpoints" / "last.pt").exists()


def test_ism_above_its_dimension_limit_suggests_ssm(tmp_path):
    """ism's refusal names the dimension-free objectives that fit the process: ssm on the data
    density (dsm needs noise), and the hinted spec compiles."""
    from scorec.core.diagnostics import SpecError, SpecErrors

    for process, fitting in ((NONE, "use objective kind: ssm "), (VP, "use objective kind: dsm or ssm ")):
        with pytest.raises((SpecError, SpecErrors)) as info:
            programs(tmp_path, "{kind: ism, max_dim: 2}", process)
        assert "3 backward passes" in str(info.value) and fitting in str(info.value), str(info.value)
        assert programs(tmp_path, "{kind: ssm}", process).train.SSM_PROJECTIONS == 1


@pytest.mark.parametrize("objective, complaint", [
    ("{kind: ssm, projections: 0}", "spec.yaml:8:37: error: objective.projections must be >= 1"),
    ("{kind: ssm, distribution: sphere}",
     "spec.yaml:8:38: error: unknown value 'sphere' for objective.distribution (hint: one of: gaussian, rademacher)"),
    ("{kind: ssm, variance_reduction: 1}", "spec.yaml:8:44: error: objective.variance_reduction must be true or false"),
])
def test_ssm_options_are_checked(objective, complaint, tmp_path):
    from scorec.core.diagnostics import SpecError, SpecErrors

    with pytest.raises((SpecError, SpecErrors)) as info:
        programs(tmp_path, objective)
    assert complaint in str(info.value), str(info.value)
