"""Sampler lowering: the time grid and the number of network evaluations (NFE)."""

from __future__ import annotations

from ..diagnostics import SpecError
from ..ir import ProcessIR, SamplerIR
from .source import SourceMap
from ..spec import AncestralSampler, DDIMSampler, EMSampler, ODESampler, PCSampler

ODE_STAGES = {"euler": 1, "heun": 2, "rk4": 4}


def lower_sampler(s, process: ProcessIR, source: SourceMap) -> SamplerIR:
    common = dict(sampler=s.sampler, steps=s.steps, n=s.n, batch_size=s.batch_size, denoise=s.denoise)
    final = 1 if s.denoise else 0
    if process.continuous:
        grid = f"t uniform from 1 to t_eps = {process.t_eps:g} in {s.steps} steps"
    else:
        grid = f"i = 1 + floor(k {process.timesteps} / {s.steps}) for k = {s.steps - 1}..0, then i = 0"
    if isinstance(s, EMSampler):
        return SamplerIR(**common, nfe=s.steps + final, grid=grid)
    if isinstance(s, PCSampler):
        langevin = s.corrector.kind == "langevin"
        corrector_steps = s.corrector.steps if langevin else 0
        return SamplerIR(
            **common,
            nfe=s.steps * (1 + corrector_steps) + final,
            grid=grid,
            predictor=s.predictor,
            corrector=s.corrector.kind,
            corrector_snr=s.corrector.snr if langevin else None,
            corrector_steps=corrector_steps,
        )
    if isinstance(s, ODESampler):
        return SamplerIR(**common, nfe=s.steps * ODE_STAGES[s.method] + final, grid=grid, method=s.method)
    if isinstance(s, (AncestralSampler, DDIMSampler)):
        if s.steps > process.timesteps:
            raise SpecError(
                f"sample.steps ({s.steps}) exceeds the process's {process.timesteps} timesteps",
                source.span_of(("sample", "steps")),
                f"use at most {process.timesteps} steps; fewer steps respace the chain",
            )
        if not s.denoise:
            raise SpecError(
                f"denoise: false does not apply to sampler '{s.sampler}'",
                source.span_of(("sample", "denoise")),
                "a discrete chain ends at i = 0, whose posterior mean is the Tweedie denoiser itself; remove the key",
            )
        return SamplerIR(**common, nfe=s.steps, grid=grid,
                         eta=s.eta if isinstance(s, DDIMSampler) else None)
    raise TypeError(f"no lowering for sampler {s!r}")
