"""Few-step samplers step for step against their peers, in float64, with the same exact eps, grid and noise.

dpm_solver vs diffusers' DPMSolverMultistepScheduler, unipc vs UniPCMultistepScheduler, edm vs
k-diffusion's sample_heun: the samples must agree to 1e-8. The peers are a test extra (`.ci/run`
installs them after torch); each test skips where its peer is absent.

Where the comparison needs help, and why:
  * diffusers keeps its beta and sigma tables in float32 and casts the sample to float32 inside
    step(); its scheduler module runs here with `float32` read as float64 (its formulas untouched),
    so that the comparison measures the solver, not the storage.
  * DPM-Solver++ 3M: scorec weights the second divided difference D2 by the exact Taylor coefficient
    (twice diffusers' in the ODE step; diffusers' SDE weight tends to -1 as h -> 0 where the exact one
    tends to 0). The 3M comparisons add exactly that difference to diffusers' third-order update, and
    test_third_order_converges_at_third_order shows why: scorec's 3M error falls ~8x per halving of h,
    diffusers' ~4x (second order).
  * On a discrete chain diffusers rounds a fractional (karras) timestep for the network but keeps the
    unrounded sigma in the update; scorec does the same (sampler/_levels.py.j2), so no help is needed.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch

from emitted import build, compile_text

SPEC = """
scorec: 1
name: equivalence
seed: 0
data: {{source: gmm, means: [[-2.0, 0.0], [2.0, 0.5], [0.0, 2.5]], std: 0.5}}
process: {process}
model: {{parameterization: eps, network: {{kind: analytic}}}}
sample: {sample}
"""
DISCRETE = "{kind: discrete, schedule: linear, timesteps: 1000}"
BATCH = 64
TOLERANCE = 1e-8


class Float64Names:
    """A stand-in for the torch or numpy module inside a peer's module: float32 reads as float64."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, "float64" if name == "float32" else name)


@pytest.fixture
def in_float64(monkeypatch):
    """Run a diffusers scheduler module with its float32 tables and casts made float64."""
    def patch(module):
        monkeypatch.setattr(module, "torch", Float64Names(torch))
        monkeypatch.setattr(module, "np", Float64Names(np))
    return patch


def scorec_programs(tmp_path, sample, process=DISCRETE):
    programs = build(compile_text(SPEC.format(process=process, sample=sample)), tmp_path)
    s = programs.sample
    model = s.ScoreModel(s.load_network(str(tmp_path), torch.device("cpu")))
    return s, model


def prior(s, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return s.prior_sample((BATCH, *s.DATA_SHAPE), generator, torch.device("cpu")).double()


def run_scorec(s, model, x, steps, seed=1):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return s.solve(model, x.clone(), s.sample_grid(steps, x.device), generator)


def step_noise(steps, seed=1):
    """The noise scorec's stochastic steps draw, in order (one draw per step before the last)."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn((BATCH, 2), generator=generator, dtype=torch.float64) for _ in range(steps - 1)] + [None]


def run_diffusers(scheduler, s, model, x, steps, noise):
    scheduler.set_timesteps(steps)
    x = x.clone()
    with torch.no_grad():
        for k, timestep in enumerate(scheduler.timesteps):
            eps = model.eps(x, (timestep + 1).long().expand(BATCH))  # diffusers' timestep j is the chain's i = j + 1
            extra = {} if noise[k] is None else {"variance_noise": noise[k]}
            x = scheduler.step(eps, timestep, x, **extra).prev_sample
    return x


def exact_d2_weight(scheduler_class):
    """The scheduler with scorec's third-order weight of D2 (see the module docstring)."""

    class ExactThirdOrder(scheduler_class):
        def multistep_dpm_solver_third_order_update(self, model_output_list, *args, sample=None, noise=None,
                                                    **kwargs):
            x_t = super().multistep_dpm_solver_third_order_update(model_output_list, sample=sample, noise=noise)
            sig = [self.sigmas[self.step_index + 1 - j] for j in range(4)]
            lam = [torch.log(a) - torch.log(s) for a, s in map(self._sigma_to_alpha_sigma_t, sig)]
            alpha_t = self._sigma_to_alpha_sigma_t(sig[0])[0]
            h, r0, r1 = lam[0] - lam[1], (lam[1] - lam[2]) / (lam[0] - lam[1]), (lam[2] - lam[3]) / (lam[0] - lam[1])
            m0, m1, m2 = model_output_list[-1], model_output_list[-2], model_output_list[-3]
            d2 = ((m0 - m1) / r0 - (m1 - m2) / r1) / (r0 + r1)
            if self.config.algorithm_type == "sde-dpmsolver++":
                theirs = (1 - torch.exp(-2 * h) - 2 * h) / (2 * h) ** 2 - 0.5
                ours = 1 - 1 / h - torch.expm1(-2 * h) / (2 * h**2)
            else:
                theirs = -((torch.exp(-h) - 1) / h + 1) / h + 0.5
                ours = 1 - 2 / h - 2 * torch.expm1(-h) / h**2
            return x_t + alpha_t * (ours - theirs) * d2

    return ExactThirdOrder


DPM_CASES = {  # name: (order, variant, grid, steps)
    "2m-ode-linspace-8": (2, "ode", "linspace", 8),
    "2m-ode-karras-20": (2, "ode", "karras", 20),
    "2m-sde-linspace-8": (2, "sde", "linspace", 8),
    "2m-sde-karras-16": (2, "sde", "karras", 16),
    "3m-ode-linspace-10": (3, "ode", "linspace", 10),
    "3m-ode-karras-20": (3, "ode", "karras", 20),
    "3m-sde-trailing-10": (3, "sde", "trailing", 10),
    "3m-sde-leading-16": (3, "sde", "leading", 16),
}


@pytest.mark.parametrize("case", sorted(DPM_CASES))
def test_dpm_solver_matches_diffusers(case, tmp_path, in_float64):
    diffusers = pytest.importorskip("diffusers")
    module = importlib.import_module("diffusers.schedulers.scheduling_dpmsolver_multistep")
    order, variant, grid, steps = DPM_CASES[case]
    s, model = scorec_programs(tmp_path, f"{{sampler: dpm_solver, steps: {steps}, order: {order}, variant: {variant}, "
                                         f"grid: {{kind: {grid}}}}}")
    x = prior(s)
    ours = run_scorec(s, model, x, steps)
    in_float64(module)
    scheduler_class = exact_d2_weight(diffusers.DPMSolverMultistepScheduler) if order == 3 else \
        diffusers.DPMSolverMultistepScheduler
    scheduler = scheduler_class(
        beta_schedule="linear", solver_order=order, timestep_spacing="trailing" if grid == "trailing" else
        "leading" if grid == "leading" else "linspace", use_karras_sigmas=grid == "karras",
        algorithm_type="sde-dpmsolver++" if variant == "sde" else "dpmsolver++")
    theirs = run_diffusers(scheduler, s, model, x, steps, step_noise(steps) if variant == "sde" else [None] * steps)
    diff = (ours - theirs).abs().max().item()
    print(f"dpm_solver {case}: max |scorec - diffusers| = {diff:.2e}")
    assert diff < TOLERANCE


UNIPC_CASES = {  # name: (order, grid, steps)
    "p2-linspace-8": (2, "linspace", 8),
    "p2-karras-20": (2, "karras", 20),
    "p3-linspace-10": (3, "linspace", 10),
    "p3-karras-6": (3, "karras", 6),
    "p3-trailing-16": (3, "trailing", 16),
    "p1-leading-5": (1, "leading", 5),
}


@pytest.mark.parametrize("case", sorted(UNIPC_CASES))
def test_unipc_matches_diffusers(case, tmp_path, in_float64):
    diffusers = pytest.importorskip("diffusers")
    module = importlib.import_module("diffusers.schedulers.scheduling_unipc_multistep")
    order, grid, steps = UNIPC_CASES[case]
    s, model = scorec_programs(tmp_path, f"{{sampler: unipc, steps: {steps}, order: {order}, grid: {{kind: {grid}}}}}")
    x = prior(s)
    ours = run_scorec(s, model, x, steps)
    in_float64(module)
    scheduler = diffusers.UniPCMultistepScheduler(
        beta_schedule="linear", solver_order=order, timestep_spacing=grid if grid != "karras" else "linspace",
        use_karras_sigmas=grid == "karras")
    theirs = run_diffusers(scheduler, s, model, x, steps, [None] * steps)
    diff = (ours - theirs).abs().max().item()
    print(f"unipc {case}: max |scorec - diffusers| = {diff:.2e}")
    assert diff < TOLERANCE


GAUSSIAN = """
scorec: 1
name: order
seed: 0
data: {source: gmm, means: [[0.7, -0.4]], std: 0.5}
process: {kind: vp}
model: {parameterization: eps, network: {kind: analytic}}
sample: {sampler: dpm_solver, order: 3, denoise: false, lower_order_final: false, grid: {kind: logsnr}}
"""


def test_third_order_converges_at_third_order(tmp_path):
    """Why scorec's 3M departs from diffusers': on Gaussian data the flow is known in closed form,
    x_lo = alpha_lo mu + v_lo / v_hi (x_hi - alpha_hi mu), v^2 = alpha^2 s0^2 + sigma^2. Halving h cuts
    scorec's error by > 6x (third order or better) and diffusers' 3M's by < 5x (second order)."""
    diffusers = pytest.importorskip("diffusers")
    programs = build(compile_text(GAUSSIAN), tmp_path)
    s = programs.sample
    model = s.ScoreModel(s.load_network(str(tmp_path), torch.device("cpu")))
    x = s.prior_sample((BATCH, 2), torch.Generator().manual_seed(0), torch.device("cpu")).double()
    mu, s0 = torch.tensor([0.7, -0.4], dtype=torch.float64), 0.5

    def exact(ts):
        (a_hi, a_lo), (s_hi, s_lo) = s.kernel_at(ts[[0, -1]])
        return a_lo * mu + (a_lo**2 * s0**2 + s_lo**2).sqrt() / (a_hi**2 * s0**2 + s_hi**2).sqrt() * (x - a_hi * mu)

    def diffusers_3m(ts):
        scheduler = diffusers.DPMSolverMultistepScheduler(solver_order=3, lower_order_final=False,
                                                          final_sigmas_type="sigma_min")
        scheduler.set_timesteps(len(ts) - 1)
        a, sig = s.kernel_at(ts)
        scheduler.sigmas = sig / a  # the VP process's own levels: alpha^2 + sigma^2 = 1, so x is the same
        scheduler.timesteps = torch.arange(len(ts) - 1, 0, -1)
        y = x.clone()
        for k, timestep in enumerate(scheduler.timesteps):
            eps = model.eps(y, ts[k].expand(BATCH))
            y = scheduler.step(eps, timestep, y).prev_sample
        return y

    errors = {"scorec": [], "diffusers": []}
    with torch.no_grad():
        for steps in (20, 40, 80):
            ts = s.sample_grid(steps, x.device)
            errors["scorec"].append((s.solve(model, x.clone(), ts) - exact(ts)).abs().max().item())
            errors["diffusers"].append((diffusers_3m(ts) - exact(ts)).abs().max().item())
    print({k: [f"{e:.2e}" for e in v] for k, v in errors.items()})
    ours, theirs = errors["scorec"], errors["diffusers"]
    assert ours[1] / ours[2] > 6 and ours[0] / ours[1] > 6
    assert theirs[1] / theirs[2] < 5
    assert ours[2] < theirs[2] / 10


def k_diffusion_sampling():
    """k-diffusion's sampling module alone: its package imports torchvision (which cannot load beside
    this torch), so the module is loaded from its file with stand-ins for the two names it imports but
    sample_heun does not use (torchsde, and utils beyond append_dims)."""
    import importlib.util
    import sys
    import types

    found = importlib.util.find_spec("k_diffusion")
    if found is None or found.submodule_search_locations is None:
        pytest.skip("k-diffusion is not installed")
    pytest.importorskip("torchdiffeq")
    pytest.importorskip("tqdm")
    path = f"{list(found.submodule_search_locations)[0]}/sampling.py"
    saved = {name: sys.modules.get(name) for name in ("k_diffusion", "k_diffusion.utils", "torchsde")}
    package = types.ModuleType("k_diffusion")
    package.__path__ = []
    utils = types.ModuleType("k_diffusion.utils")
    utils.append_dims = lambda x, ndim: x[(...,) + (None,) * (ndim - x.ndim)]
    package.utils = utils
    sys.modules.update({"k_diffusion": package, "k_diffusion.utils": utils,
                        "torchsde": saved["torchsde"] or types.ModuleType("torchsde")})
    try:
        spec = importlib.util.spec_from_file_location("k_diffusion.sampling", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, value in saved.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value
    return module


VE = "{kind: ve, sigma_min: 0.01, sigma_max: 20.0, t_eps: 1.0e-3}"
EDM_CASES = {  # name: (sample options, steps)
    "churn0-karras-8": ("churn: 0.0", 8),
    "churn0-logsnr-12": ("churn: 0.0, grid: {kind: logsnr}", 12),
    "churn30-karras-10": ("churn: 30.0, s_tmin: 0.05, s_tmax: 10.0, s_noise: 1.003", 10),
    "churn5-karras-6": ("churn: 5.0, s_tmax: 15.0", 6),
}


@pytest.mark.parametrize("case", sorted(EDM_CASES))
def test_edm_matches_k_diffusion_heun(case, tmp_path):
    sampling = k_diffusion_sampling()
    options, steps = EDM_CASES[case]
    s, model = scorec_programs(tmp_path, f"{{sampler: edm, steps: {steps}, {options}}}", process=VE)
    x = prior(s)
    ours = run_scorec(s, model, x, steps, seed=5)
    ts = s.sample_grid(steps, x.device)
    sigmas = torch.exp(-s.log_snr(ts))  # VE: alpha = 1, so sigma/alpha is sigma; 0 at the data

    def denoiser(y, sigma):
        t = s.time_of_log_snr(-sigma[:1].log())
        return model.x0(y, t.expand(y.shape[0]))

    churn = dict(pair.split(": ") for pair in options.split(", ") if not pair.startswith("grid"))
    torch.manual_seed(5)  # k-diffusion draws its churn noise from the global generator, every step
    with torch.no_grad():
        theirs = sampling.sample_heun(denoiser, x.clone(), sigmas, disable=True, s_churn=float(churn["churn"]),
                                      s_tmin=float(churn.get("s_tmin", 0.0)),
                                      s_tmax=float(churn.get("s_tmax", "inf")), s_noise=float(churn.get("s_noise", 1.0)))
    diff = (ours - theirs).abs().max().item()
    print(f"edm {case}: max |scorec - k-diffusion| = {diff:.2e}")
    assert diff < TOLERANCE


def test_edm_churn_never_rises_above_the_noisiest_level(tmp_path):
    """Where scorec differs from k-diffusion on purpose: churn at the grid's noisiest level would raise
    sigma beyond the process's last time (t > 1, no kernel there), so scorec adds none there; k-diffusion
    (which knows no process) does. With the first level left out of k-diffusion's churn window the two agree."""
    sampling = k_diffusion_sampling()
    s, model = scorec_programs(tmp_path, "{sampler: edm, steps: 6, churn: 5.0}", process=VE)
    x = prior(s)
    ours = run_scorec(s, model, x, 6, seed=5)
    sigmas = torch.exp(-s.log_snr(s.sample_grid(6, x.device)))

    def denoiser(y, sigma):
        return model.x0(y, s.time_of_log_snr(-sigma[:1].log()).expand(y.shape[0]))

    def k_heun(s_tmax):
        torch.manual_seed(5)
        with torch.no_grad():
            return sampling.sample_heun(denoiser, x.clone(), sigmas, disable=True, s_churn=5.0, s_tmax=s_tmax)

    assert (ours - k_heun(float(sigmas[0]) * (1 - 1e-9))).abs().max().item() < TOLERANCE
    assert (ours - k_heun(float("inf"))).abs().max().item() > 1e-3


@pytest.mark.parametrize("churn, s_tmax", [(0.0, math.inf), (10.0, 10.0)])
def test_edm_on_process_edm_is_k_diffusions_karras_heun(churn, s_tmax, tmp_path):
    """On process edm (alpha = 1, sigma(t) Karras et al.'s rho schedule) the edm sampler with its default
    grid is k-diffusion's sample_heun on get_sigmas_karras(n, 0.002, 80, rho 7): the same levels (to
    k-diffusion's float32 ramp) and the same samples (float64, on scorec's levels) to 1e-8."""
    sampling = k_diffusion_sampling()
    steps = 10
    bound = "" if s_tmax == math.inf else f", s_tmax: {s_tmax}"
    s, model = scorec_programs(tmp_path, f"{{sampler: edm, steps: {steps}, churn: {churn}{bound}}}",
                               process="{kind: edm}")
    x = prior(s)
    ours = run_scorec(s, model, x, steps, seed=5)
    sigmas = s.scale_levels(s.sample_grid(steps, x.device))  # 0 at the data, though sigma(0) = SIGMA_MIN
    karras = sampling.get_sigmas_karras(steps, 0.002, 80.0, rho=7.0).double()
    assert torch.allclose(sigmas, karras, rtol=1e-6, atol=0)

    def denoiser(y, sigma):
        return model.x0(y, s.time_of_log_snr(-sigma[:1].log()).expand(y.shape[0]))

    torch.manual_seed(5)
    with torch.no_grad():
        theirs = sampling.sample_heun(denoiser, x.clone(), sigmas, disable=True, s_churn=churn, s_tmax=s_tmax)
    assert (ours - theirs).abs().max().item() < TOLERANCE
