"""Options of the likelihood metrics (`eval.nll`, `eval.vlb`): how the emitted likelihood.py
evaluates the trained model on held-out data.

`nll` integrates the probability-flow ODE (continuous processes); `vlb` sums the variational
bound's terms (discrete chains). Ranges are checked here with hints, so that `probes: 0` or
`rtol: 2` is a located error that says what the option does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..components.options import MAX_COUNT, FieldError, PositiveInt, Section
from ..core.hints import SetKey, hint

# Exact divergences cost one backward pass per dimension; above this many dimensions `auto`
# takes Hutchinson's estimator (`probes` backward passes, unbiased, with a variance of its own).
EXACT_MAX_DIM = 16
# dopri5 keeps the local error within atol + rtol |x| in float64 with a float32 network: below 1e-9
# the steps shrink to the network's round-off without making the number more exact.
TOLERANCE_RANGE = (1e-9, 0.1)


class HeldOutOptions(Section):
    n: PositiveInt = Field(1000, description="held-out points averaged over (the data's test split)")
    batch_size: PositiveInt = Field(500, description="points evaluated at once (memory grows with it)")


class VLBOptions(HeldOutOptions):
    """`eval.vlb`: the variational bound of a discrete chain on held-out points."""

    variance: Literal["large", "small"] = Field(
        "large", description="the model's reverse step variance: large beta_i (DDPM's CIFAR-10 bound), small the "
                             "posterior's beta~_i (the ancestral sampler's)")


class NLLOptions(HeldOutOptions):
    """`eval.nll`: the exact log-likelihood through the probability-flow ODE (torchdiffeq's dopri5)."""

    estimator: Literal["auto", "exact", "hutchinson"] = Field(
        "auto", description=f"divergence of the ODE's velocity: exact (autograd, a backward pass per dimension), "
                            f"hutchinson (unbiased, `probes` backward passes); auto: exact up to "
                            f"{EXACT_MAX_DIM} dimensions")
    probes: int = Field(1, description="hutchinson: random vectors per divergence, fixed along each ODE path")
    noise: Literal["rademacher", "gaussian"] = Field(
        "rademacher", description="hutchinson: the probes' law (rademacher has the smaller variance)")
    rtol: float = Field(1e-5, description="dopri5's relative tolerance")
    atol: float = Field(1e-5, description="dopri5's absolute tolerance")

    @model_validator(mode="after")
    def _ranges(self):
        if not 1 <= self.probes < MAX_COUNT:
            raise FieldError(("probes",), f"probes must be at least 1, got {self.probes}",
                             hint("Hutchinson's estimator averages v^T (dv/dx) v over `probes` random vectors v; "
                                  "for no randomness use ", SetKey(("estimator",), ("exact",))), "E0204")
        low, high = TOLERANCE_RANGE
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not low <= value <= high:
                raise FieldError((name,), f"{name} must be in [{low:g}, {high:g}], got {value:g}",
                                 f"dopri5 keeps each step's error within atol + rtol |x|: above {high:g} the "
                                 f"likelihood is inaccurate, below {low:g} the steps shrink to the float32 "
                                 "network's round-off; score_sde's 1e-5 is the default", "E0204")
        return self

    def estimator_for(self, dimension: int) -> str:
        """The divergence estimator used for data of this many dimensions."""
        if self.estimator != "auto":
            return self.estimator
        return "exact" if dimension <= EXACT_MAX_DIM else "hutchinson"
