"""Few-step quality on the exact score (issue 14): SW1 within 10 NFE <= 0.040 and within 5 NFE <= 0.075
on a 5-mode mixture like the issue's (std 0.4, modes 3 apart), and the same on a mixture of our own.

The issue's targets hold at n = 50000, whose noise floor (the SW1 between two independent sets of true
samples) is about 0.0175. These tests draw n = 6000 (seconds), whose floor is higher (~0.05); the bound
is the target plus the difference of the two floors: the one at n measured here, the one at 50000 from
it by the 1/sqrt(n) law of a one-dimensional empirical W1. 128 directions (not 512): the data are 2-D,
and every SW1 here, the floor's included, uses the same directions. The optimized grid is fitted on a
small calibration batch (64 samples, 30 Adam steps, a 60-step reference): 3-4 s. One thread: these are
small tensors, and on a loaded 2-core box two threads made each step ~40x slower (14.5 s against 0.34 s
for 10 NFE on 4000 samples). The 3M optimized case at 10 NFE (15-20 s of fitting) is marked slow; at
10 NFE the fixed Karras grid under iPNDM already meets the target. bench/bench_few_step.py prints the
full table beside diffusers' schedulers.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from emitted import build, compile_text
from scorec.metrics import sliced_wasserstein

N = 6000
PROJECTIONS = 128  # directions of every SW1 here
MIXTURES = {
    "issue": (None, [[-3.0, 0.0], [0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.0, -3.0]], 0.4),
    "ring": (None, [[round(4 * math.cos(k * math.pi / 4), 6), round(4 * math.sin(k * math.pi / 4), 6)]
                    for k in range(8)], 0.3),
}
SPEC = """
scorec: 1
name: few-step
seed: 0
data: {{source: gmm, means: {means}, std: {std}}}
process: {{kind: vp}}
model: {{parameterization: eps, network: {{kind: analytic}}}}
sample: {sample}
"""
OPTIMIZED = "grid: {kind: optimized, calibration: 64, iterations: 30, reference_steps: 60}"
CASES = {  # name: (mixture, sample section, target SW1 at n = 50000)
    "issue-ipndm-karras-10": ("issue", "{sampler: ipndm, steps: 10}", 0.040),
    "issue-3m-optimized-10": ("issue", f"{{sampler: dpm_solver, order: 3, lower_order_final: false, steps: 10, "
                                       f"{OPTIMIZED}}}", 0.040),
    "issue-ipndm-optimized-5": ("issue", f"{{sampler: ipndm, steps: 5, {OPTIMIZED}}}", 0.075),
    "ring-ipndm-optimized-5": ("ring", f"{{sampler: ipndm, steps: 5, {OPTIMIZED}}}", 0.075),
}


def true_samples(name, n, seed):
    _, means, std = MIXTURES[name]
    rng = np.random.default_rng(seed)
    return np.asarray(means)[rng.integers(0, len(means), n)] + std * rng.standard_normal((n, 2))


@functools.lru_cache(maxsize=None)
def floor(name, n=N):
    return float(np.mean([sliced_wasserstein(true_samples(name, n, 100 + 2 * i), true_samples(name, n, 101 + 2 * i),
                                             seed=7, n_projections=PROJECTIONS) for i in range(2)]))


SLOW = {"issue-3m-optimized-10"}  # 15-20 s of grid fitting


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in sorted(CASES)])
def test_few_step_samples_meet_the_issue_targets(case, tmp_path):
    name, sample, target = CASES[case]
    _, means, std = MIXTURES[name]
    ir = compile_text(SPEC.format(means=means, std=std, sample=sample), [f"sample.n={N}", f"sample.batch_size={N}"])
    programs = build(ir, tmp_path)
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu", "--seed", "5"])
    data = np.load(tmp_path / "samples.npz")
    assert int(data["nfe"]) <= (10 if target == 0.040 else 5)
    sw = sliced_wasserstein(data["samples"], true_samples(name, N, 1), seed=7, n_projections=PROJECTIONS)
    bound = target + floor(name, N) * (1 - (N / 50000) ** 0.5)
    print(f"{case}: SW1 {sw:.4f} at {int(data['nfe'])} NFE (bound {bound:.4f})")
    assert sw <= bound
    if ir.sampler.prepares:  # the optimized grid is recorded in the run directory and reused
        before = (tmp_path / "grid.json").stat()
        programs.sample.main(["--out", str(tmp_path), "--device", "cpu", "--seed", "5", "--n", "10"])
        after = (tmp_path / "grid.json").stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # read, not rewritten
        assert torch.isfinite(torch.tensor(np.load(tmp_path / "samples.npz")["samples"])).all()
