"""What every sampler shares: the options of the `sample` section and its IR fields; and what the
samplers that walk a discrete chain share (ChainSamplerOptions)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from ...core.hints import SetKey, hint
from ...core.ir import SamplerNode
from ..options import FieldError, PositiveInt, Section
from ._guidance import GUIDANCE_DESCRIPTION, LABELS_DESCRIPTION, GuidanceOptions, LabelChoice, guided_nfe, \
    lower_conditional, unset

MAX_BATCH = 5000  # samples drawn at once unless the spec says otherwise


class SamplerOptions(Section):
    steps: PositiveInt = Field(1000, description="number of sampler steps")
    n: PositiveInt = Field(5000, description="number of samples")
    batch_size: PositiveInt = Field(MAX_BATCH, description=f"samples drawn at once (default: min(n, {MAX_BATCH}))")
    denoise: bool = Field(True, description="finish with the Tweedie denoiser D(x, t_end)")
    labels: LabelChoice = Field(None, exclude_if=unset, description=LABELS_DESCRIPTION)
    guidance: GuidanceOptions | None = Field(None, exclude_if=unset, description=GUIDANCE_DESCRIPTION)

    @model_validator(mode="before")
    @classmethod
    def _default_batch(cls, data: Any) -> Any:
        """A default that fits the user's n: batch_size = min(n, MAX_BATCH)."""
        if isinstance(data, dict) and "batch_size" not in data and type(data.get("n")) is int and data["n"] > 0:
            return {**data, "batch_size": min(data["n"], MAX_BATCH)}
        return data

    @model_validator(mode="after")
    def _batch_fits(self):
        if self.batch_size > self.n:
            raise FieldError(("batch_size", "n"), f"batch_size ({self.batch_size}) is larger than n ({self.n})",
                             f"set sample.batch_size to at most {self.n}, or raise sample.n")
        return self

    def common(self, ctx, nfe: int, final_denoise: bool) -> dict:
        """The SamplerNode fields every sampler fills the same way (a conditional model's labels and
        guidance among them: `nfe` counts the model's calls, and a guided call may evaluate it twice)."""
        conditional = lower_conditional(self, ctx)
        return dict(kind=self.sampler, steps=self.steps, n=self.n, batch_size=self.batch_size,
                    final_denoise=final_denoise, nfe=guided_nfe(nfe, conditional.get("guidance")),
                    grid=ctx.process.grid_text(self.steps), **conditional)


def check_chain_steps(options: SamplerOptions, ctx) -> None:
    """A sampler that walks the discrete chain: at most N steps, and no final denoiser to turn off."""
    timesteps = ctx.process.constant("N_STEPS")
    if options.steps > timesteps:
        raise ctx.error("steps", f"sample.steps ({options.steps}) exceeds the process's {timesteps} timesteps",
                        f"use at most {timesteps} steps; fewer steps respace the chain")
    if not options.denoise:
        raise ctx.error("denoise", f"sampler '{options.sampler}' has no final denoiser to turn off",
                        hint("a discrete chain ends at i = 0, whose posterior mean is the Tweedie denoiser itself; "
                             "remove the key or set ", SetKey(("denoise",), (True,))))


class ChainSamplerOptions(SamplerOptions):
    """A sampler that walks the process's discrete chain i -> j < i, respaced to `steps`: one
    network evaluation a step and no final denoiser. Its fragment extends sampler/_chain_walk.py.j2
    with its step."""

    def chain_node(self, ctx, node: type = SamplerNode, **fields: Any) -> SamplerNode:
        check_chain_steps(self, ctx)
        return node(**self.common(ctx, nfe=self.steps, final_denoise=False), **fields)
