"""Quality per network evaluation: scorec's few-step samplers and grids beside diffusers' schedulers.

Every sampler is driven by the exact score of a Gaussian mixture (scorec: the `analytic` network in the
emitted programs; diffusers: the same mixture's exact epsilon at the noise level the scheduler steps
from), and judged by the sliced Wasserstein-1 distance of its samples to fresh samples of the mixture,
beside the floor (the SW1 between two independent sets of true samples of the same size). One run
prints, for each mixture, a table of SW1 at 5, 10, 20 and 50 NFE (a sampler whose NFE comes in other
counts, Heun's 2N - 1, takes the largest count within the budget).

    python bench/bench_few_step.py [--n 50000] [--mixtures issue,uneven,ring] [--nfe 5,10,20,50] [--no-peers]
    python bench/bench_few_step.py --grids --process edm [--n 20000] [--mixtures issue,uneven]

scorec runs the variance-preserving SDE (beta 0.1..20, t_eps 1e-3) by default, or --process edm | flow |
discrete | ve; diffusers, on vp, its 1000-step linear DDPM schedule (beta 1e-4..0.02), the VP SDE's
discretisation; on edm its EDM schedulers (the same sigma range and Karras levels); on flow its
flow-matching schedulers (none on discrete and ve). diffusers is optional (pip install diffusers).
--grids puts every fixed grid kind that applies to the process under each few-step sampler: the
table the samplers' default grids were chosen from (bench/NOTES.md).
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from emitted import build, compile_text  # noqa: E402
from scorec.core.diagnostics import SpecError  # noqa: E402
from scorec.metrics import sliced_wasserstein  # noqa: E402

MIXTURES = {  # name: (weights, means, std)
    "issue": (None, [[-3.0, 0.0], [0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.0, -3.0]], 0.4),
    "uneven": ([0.6, 0.3, 0.1], [[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], 0.3),
    "ring": (None, [[round(4 * math.cos(k * math.pi / 4), 6), round(4 * math.sin(k * math.pi / 4), 6)]
                    for k in range(8)], 0.3),
}
SPEC = """
scorec: 1
name: bench-few-step
seed: 0
data: {{source: gmm, weights: {weights}, means: {means}, std: {std}}}
process: {process}
model: {{parameterization: eps, network: {{kind: analytic}}}}
sample: {sample}
"""

PROCESSES = {
    "vp": "{kind: vp, beta_min: 0.1, beta_max: 20.0, t_eps: 1.0e-3}",
    "ve": "{kind: ve, sigma_min: 0.01, sigma_max: 50.0, t_eps: 1.0e-3}",
    "edm": "{kind: edm}",
    "flow": "{kind: flow}",
    "discrete": "{kind: discrete, schedule: linear, timesteps: 1000}",
}

# label: (sample section with {steps}, steps for an NFE budget)
SCOREC = {
    "scorec dpm_solver 2M logsnr": ("{{sampler: dpm_solver, order: 2, steps: {steps}, grid: {{kind: logsnr}}}}", lambda b: b),
    "scorec dpm_solver 3M logsnr": ("{{sampler: dpm_solver, order: 3, steps: {steps}, grid: {{kind: logsnr}}}}", lambda b: b),
    "scorec dpm_solver 3M optimized": ("{{sampler: dpm_solver, order: 3, steps: {steps}, lower_order_final: false, "
                                       "grid: {{kind: optimized}}}}",
                                       lambda b: b),
    "scorec unipc 3 logsnr": ("{{sampler: unipc, order: 3, steps: {steps}, grid: {{kind: logsnr}}}}", lambda b: b),
    "scorec unipc 3 optimized": ("{{sampler: unipc, order: 3, steps: {steps}, lower_order_final: false, "
                                 "grid: {{kind: optimized}}}}",
                                 lambda b: b),
    "scorec ipndm 4 karras": ("{{sampler: ipndm, steps: {steps}, grid: {{kind: karras}}}}", lambda b: b),
    "scorec ipndm 4 logsnr": ("{{sampler: ipndm, steps: {steps}, grid: {{kind: logsnr}}}}", lambda b: b),
    "scorec ipndm 4 optimized": ("{{sampler: ipndm, steps: {steps}, grid: {{kind: optimized}}}}", lambda b: b),
    "scorec edm heun karras": ("{{sampler: edm, steps: {steps}, grid: {{kind: karras}}}}", lambda b: (b + 1) // 2),
    "scorec edm heun optimized": ("{{sampler: edm, steps: {steps}, grid: {{kind: optimized}}}}", lambda b: (b + 1) // 2),
}

# --grids: each few-step sampler (at its default options but the grid) on every fixed grid kind
GRID_SAMPLERS = {
    "dpm_solver 2M": ("{{sampler: dpm_solver, order: 2, steps: {steps}, grid: {{kind: {grid}}}}}", lambda b: b),
    "dpm_solver 3M": ("{{sampler: dpm_solver, order: 3, steps: {steps}, grid: {{kind: {grid}}}}}", lambda b: b),
    "unipc 2": ("{{sampler: unipc, order: 2, steps: {steps}, grid: {{kind: {grid}}}}}", lambda b: b),
    "unipc 3": ("{{sampler: unipc, order: 3, steps: {steps}, grid: {{kind: {grid}}}}}", lambda b: b),
    "ipndm 4": ("{{sampler: ipndm, steps: {steps}, grid: {{kind: {grid}}}}}", lambda b: b),
    "edm heun": ("{{sampler: edm, steps: {steps}, grid: {{kind: {grid}}}}}", lambda b: (b + 1) // 2),
}
FIXED_GRIDS = ("uniform", "karras", "logsnr", "quadratic", "linspace", "leading", "trailing")


def grid_rows(process):
    """label -> (sample section, steps for a budget) for every sampler x grid kind the process takes."""
    rows = {}
    for name, (section, steps_for) in GRID_SAMPLERS.items():
        for grid in FIXED_GRIDS:
            text = SPEC.format(weights=[1.0], means=[[0.0, 0.0]], std=1.0, process=PROCESSES[process],
                               sample=section.format(steps=6, grid=grid))
            try:
                compile_text(text)
            except SpecError:  # the grid does not apply to this process
                continue
            rows[f"scorec {name} {grid}"] = (section.replace("{grid}", grid), steps_for)
    return rows


def true_samples(mixture, n, seed):
    weights, means, std = mixture
    rng = np.random.default_rng(seed)
    k = rng.choice(len(means), size=n, p=weights)
    return np.asarray(means)[k] + std * rng.standard_normal((n, 2))


def exact_eps_and_x0(x, alpha, sigma, mixture):
    """The mixture's exact epsilon (-sigma grad log p_t) and denoiser E[x_0 | x_t] at x_t = alpha x_0 + sigma z
    (float64); the denoiser directly, so that alpha = 0 (flow's noisiest level) is finite."""
    weights, means, std = mixture
    mu = torch.tensor(means, dtype=torch.float64)
    log_w = torch.log(torch.tensor(weights or [1 / len(means)] * len(means), dtype=torch.float64))
    v = alpha**2 * std**2 + sigma**2
    diff = x.double()[:, None, :] - alpha * mu[None]
    r = torch.softmax(log_w - 0.5 * (diff**2).sum(-1) / v, dim=1)
    eps = sigma * (r[:, :, None] * diff / v).sum(1)
    x0 = (r[:, :, None] * (mu[None] + alpha * std**2 / v * diff)).sum(1)
    return eps, x0


def run_scorec(row, process, mixture, budget, n, workdir):
    section, steps_for = row
    steps = steps_for(budget)
    weights, means, std = mixture
    text = SPEC.format(weights=weights or [1 / len(means)] * len(means), means=means, std=std,
                       process=PROCESSES[process], sample=section.format(steps=steps))
    folder = Path(tempfile.mkdtemp(dir=workdir))
    s = build(compile_text(text), folder).sample
    device = torch.device("cpu")
    model = s.ScoreModel(s.load_network(str(folder), device))
    if getattr(s, "prepare_sampler", None):
        s.prepare_sampler(model, str(folder / "grid.json"), device)
    generator = torch.Generator().manual_seed(11)
    x = s.prior_sample((n, 2), generator, device)
    model.nfe = 0
    with torch.no_grad():
        out = s.sample(model, x, generator)
    return out.numpy(), model.nfe


def peer_schedulers(process):
    """label -> (scheduler factory, the network output it takes, NFE per step): on vp diffusers' schedulers of
    its DDPM schedule; on edm its EDM schedulers (sigma 0.002..80, Karras rho 7: process edm's own levels); on
    flow its flow-matching ones (sigma = t, shift 1). None on the other processes."""
    try:
        import diffusers
    except ImportError:
        return {}
    out = {}
    if process == "vp":
        ddpm = dict(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)
        for karras in (False, True):
            for label, cls, options, per_step in (
                    ("DPM++ 2M", diffusers.DPMSolverMultistepScheduler, dict(solver_order=2), 1),
                    ("DPM++ 3M", diffusers.DPMSolverMultistepScheduler, dict(solver_order=3), 1),
                    ("UniPC bh2 3", diffusers.UniPCMultistepScheduler, dict(solver_order=3), 1),
                    ("DEIS 3", diffusers.DEISMultistepScheduler, dict(solver_order=3), 1),
                    ("Euler", diffusers.EulerDiscreteScheduler, {}, 1),
                    ("Heun", diffusers.HeunDiscreteScheduler, {}, 2)):
                make = functools.partial(cls, **ddpm, use_karras_sigmas=karras, **options)
                out[f"diffusers {label}{' karras' if karras else ''}"] = (make, "vp_eps", per_step)
    elif process == "edm":
        for order in (2, 3):
            out[f"diffusers EDM DPM++ {order}M"] = (
                functools.partial(diffusers.EDMDPMSolverMultistepScheduler, solver_order=order), "edm_eps", 1)
        out["diffusers EDM Euler"] = (diffusers.EDMEulerScheduler, "edm_eps", 1)
    elif process == "flow":
        flow = dict(use_flow_sigmas=True, prediction_type="flow_prediction", flow_shift=1.0)
        out["diffusers FlowMatch Euler"] = (diffusers.FlowMatchEulerDiscreteScheduler, "flow", 1)
        out["diffusers FlowMatch Heun"] = (diffusers.FlowMatchHeunDiscreteScheduler, "flow", 2)
        for order in (2, 3):
            out[f"diffusers DPM++ {order}M flow"] = (
                functools.partial(diffusers.DPMSolverMultistepScheduler, solver_order=order, **flow), "flow", 1)
            out[f"diffusers UniPC {order} flow"] = (
                functools.partial(diffusers.UniPCMultistepScheduler, solver_order=order, **flow), "flow", 1)
    return out


def network_output(convention, x, scheduler, t, mixture):
    """What the scheduler's network would output at x, exactly, at the level it steps from."""
    index = scheduler.step_index if scheduler.step_index is not None else 0
    level = float(scheduler.sigmas[index])
    if convention == "vp_eps":  # level = sigma/alpha; the model sees x / sqrt(1 + level^2)
        alpha = 1 / math.sqrt(1 + level**2)
        return exact_eps_and_x0(scheduler.scale_model_input(x, t), alpha, level * alpha, mixture)[0]
    if convention == "edm_eps":  # x = x_0 + level z; D = c_skip x + c_out F with diffusers' epsilon c_out
        scheduler.scale_model_input(x, t)  # the network would see c_in x; the scheduler records the call
        data = scheduler.config.sigma_data
        c_skip, c_out = data**2 / (level**2 + data**2), level * data / math.sqrt(level**2 + data**2)
        return (exact_eps_and_x0(x, 1.0, level, mixture)[1] - c_skip * x.double()) / c_out
    eps, x0 = exact_eps_and_x0(x, 1.0 - level, level, mixture)  # flow: x = (1 - t) x_0 + t z, level = t
    return eps - x0  # the velocity dx/dt


def run_diffusers(entry, mixture, budget, n):
    make, convention, per_step = entry
    scheduler = make()
    scheduler.set_timesteps(budget if per_step == 1 else (budget + 1) // 2)
    generator = torch.Generator().manual_seed(11)
    x = torch.randn((n, 2), generator=generator) * getattr(scheduler, "init_noise_sigma", 1.0)  # flow's: 1
    nfe = 0
    with torch.no_grad():
        for t in scheduler.timesteps:
            out = network_output(convention, x, scheduler, t, mixture).float()
            nfe += 1
            x = scheduler.step(out, t, x).prev_sample
    return x.numpy(), nfe


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50000)
    parser.add_argument("--mixtures", default=",".join(MIXTURES))
    parser.add_argument("--nfe", default="5,10,20,50")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--process", default="vp", choices=sorted(PROCESSES))
    parser.add_argument("--grids", action="store_true", help="every sampler on every fixed grid (no peers)")
    parser.add_argument("--only", default="", help="comma-separated substrings of the labels to run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared machine)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    budgets = [int(b) for b in args.nfe.split(",")]
    peers = {} if args.no_peers or args.grids else peer_schedulers(args.process)
    rows = grid_rows(args.process) if args.grids else SCOREC
    labels = [*rows, *peers]
    if args.only:
        labels = [label for label in labels if any(part in label for part in args.only.split(","))]
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.mixtures.split(","):
            mixture = MIXTURES[name]
            truth = true_samples(mixture, args.n, 1)
            floor = np.mean([sliced_wasserstein(true_samples(mixture, args.n, 100 + 2 * i),
                                                true_samples(mixture, args.n, 101 + 2 * i), seed=7) for i in range(2)])
            print(f"\nprocess {args.process}, mixture '{name}' ({len(mixture[1])} modes, std {mixture[2]}), n = {args.n}: "
                  f"SW1 to truth (floor {floor:.4f}); cell: SW1 (NFE)", flush=True)
            print(f"{'sampler':36s}" + "".join(f"{'<= ' + str(b) + ' NFE':>17s}" for b in budgets), flush=True)
            best = {b: (math.inf, "") for b in budgets}
            for label in labels:
                cells, start = [], time.time()
                for budget in budgets:
                    if label in rows:
                        x, nfe = run_scorec(rows[label], args.process, mixture, budget, args.n, workdir)
                    else:
                        x, nfe = run_diffusers(peers[label], mixture, budget, args.n)
                    sw = sliced_wasserstein(x, truth, seed=7) if np.isfinite(x).all() else math.inf
                    cells.append(f"{sw:10.4f} ({nfe:3d})")
                    best[budget] = min(best[budget], (sw, label))
                print(f"{label:36s}" + "".join(f"{c:>17s}" for c in cells) + f"   [{time.time() - start:.0f} s]",
                      flush=True)
            print("best: " + "; ".join(f"<= {b} NFE {best[b][0]:.4f} ({best[b][1]})" for b in budgets), flush=True)


if __name__ == "__main__":
    main()
