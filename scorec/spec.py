"""Spec format v1: the pydantic surface schema (the user's words, validated).

Each component is one small model with a `Literal` tag, gathered into a discriminated
union: adding a sampler means adding a class here (plus a lowering rule and a template
fragment). Every model forbids unknown keys; numbers are strict (a quoted "1e-4" is an
error, not a silent float). Defaults that depend on another section (the default
objective and sampler depend on the process) are filled in by `fill_defaults` on the raw
tree before validation, so the validated Spec states every choice explicitly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z0-9_-]+$"

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0)]
Probability = Annotated[float, Field(gt=0, lt=1)]


class Section(BaseModel):
    """Base of every spec section: unknown keys are errors, numbers are strict."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ---------------------------------------------------------------------------- data

TOY_SOURCES = ("swiss_roll", "moons", "eight_gaussians", "checkerboard", "pinwheel", "rings")


class ToyData(Section):
    """A built-in 2-D toy distribution."""

    source: Literal["swiss_roll", "moons", "eight_gaussians", "checkerboard", "pinwheel", "rings"]
    n: PositiveInt = Field(20000, description="training set size")
    noise: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        None, description="extra Gaussian jitter; None keeps each toy's own default"
    )


class GMMData(Section):
    """A Gaussian mixture with isotropic components: the data whose exact score is known."""

    source: Literal["gmm"]
    n: PositiveInt = Field(20000, description="training set size")
    weights: list[PositiveFloat] | None = Field(None, description="mixture weights; uniform when omitted")
    means: list[list[Annotated[float, Field(allow_inf_nan=False)]]] = Field(
        ..., description="component means, k rows of d numbers"
    )
    std: PositiveFloat | list[PositiveFloat] = Field(0.1, description="component std: one for all, or one each")

    @model_validator(mode="after")
    def _consistent(self) -> "GMMData":
        k = len(self.means)
        if k == 0:
            raise ValueError("a gmm needs at least one mean")
        dims = {len(m) for m in self.means}
        if len(dims) != 1 or 0 in dims:
            raise ValueError(f"every mean needs the same, non-zero number of coordinates (got lengths {sorted(dims)})")
        if self.weights is not None:
            if len(self.weights) != k:
                raise ValueError(f"{len(self.weights)} weights for {k} means")
            total = sum(self.weights)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"weights must sum to 1 (they sum to {total:g})")
        if isinstance(self.std, list) and len(self.std) != k:
            raise ValueError(f"{len(self.std)} stds for {k} means")
        return self

    @property
    def dim(self) -> int:
        return len(self.means[0])

    def resolved_weights(self) -> list[float]:
        k = len(self.means)
        return list(self.weights) if self.weights is not None else [1.0 / k] * k

    def resolved_stds(self) -> list[float]:
        return list(self.std) if isinstance(self.std, list) else [float(self.std)] * len(self.means)


Data = Annotated[Union[ToyData, GMMData], Field(discriminator="source")]

# ---------------------------------------------------------------------------- process


class _BetaLinear(Section):
    beta_min: PositiveFloat = Field(0.1, description="beta(0)")
    beta_max: PositiveFloat = Field(20.0, description="beta(1)")
    t_eps: Probability = Field(1e-3, description="smallest time used in training and sampling")

    @model_validator(mode="after")
    def _ordered(self):
        if not self.beta_min < self.beta_max:
            raise ValueError(f"beta_min ({self.beta_min:g}) must be smaller than beta_max ({self.beta_max:g})")
        return self


class VPProcess(_BetaLinear):
    """Variance-preserving SDE: dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw."""

    kind: Literal["vp"]


class SubVPProcess(_BetaLinear):
    """Sub-VP SDE: dx = -1/2 beta(t) x dt + sqrt(beta(t) (1 - exp(-2 int_0^t beta))) dw."""

    kind: Literal["subvp"]


class VEProcess(Section):
    """Variance-exploding SDE: dx = sigma(t) sqrt(2 log(sigma_max/sigma_min)) dw."""

    kind: Literal["ve"]
    sigma_min: PositiveFloat = Field(0.01, description="noise scale at t=0")
    sigma_max: PositiveFloat = Field(50.0, description="noise scale at t=1; about the largest data distance")
    t_eps: Probability = Field(1e-5, description="smallest time used in training and sampling")

    @model_validator(mode="after")
    def _ordered(self):
        if not self.sigma_min < self.sigma_max:
            raise ValueError(f"sigma_min ({self.sigma_min:g}) must be smaller than sigma_max ({self.sigma_max:g})")
        return self


class DiscreteProcess(Section):
    """A discrete Markov chain x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z, i = 1..N (DDPM)."""

    kind: Literal["discrete"]
    schedule: Literal["linear", "cosine"] = Field("linear", description="how beta_i is laid out")
    timesteps: Annotated[int, Field(ge=2, le=100000)] = Field(1000, description="N, the number of steps")
    beta_start: Probability = Field(1e-4, description="beta_1 (linear schedule)")
    beta_end: Probability = Field(0.02, description="beta_N (linear schedule)")
    s: Annotated[float, Field(ge=0, lt=1)] = Field(0.008, description="offset of the cosine schedule")

    @model_validator(mode="after")
    def _ordered(self):
        if self.schedule == "linear" and not self.beta_start < self.beta_end:
            raise ValueError(f"beta_start ({self.beta_start:g}) must be smaller than beta_end ({self.beta_end:g})")
        return self


Process = Annotated[Union[VPProcess, SubVPProcess, VEProcess, DiscreteProcess], Field(discriminator="kind")]
CONTINUOUS_PROCESSES = ("vp", "subvp", "ve")

# ---------------------------------------------------------------------------- model


class MLPNetwork(Section):
    """A residual-free MLP on [x, embed(t)]."""

    kind: Literal["mlp"]
    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [256, 256, 256], description="widths of the hidden layers"
    )
    activation: Literal["silu", "relu", "gelu", "tanh"] = "silu"
    time_embedding: Literal["fourier", "sinusoidal"] = Field("fourier", description="how t enters the network")
    embedding_dim: PositiveInt = Field(64, description="width of the time embedding (even)")

    @field_validator("embedding_dim")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"embedding_dim must be even (got {v})")
        return v

    @field_validator("hidden")
    @classmethod
    def _nonempty(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("hidden needs at least one layer width")
        return v


class AnalyticNetwork(Section):
    """The exact score of the gmm data perturbed by the process (no training)."""

    kind: Literal["analytic"]


Network = Annotated[Union[MLPNetwork, AnalyticNetwork], Field(discriminator="kind")]


class ModelSpec(Section):
    parameterization: Literal["eps", "score"] = Field("eps", description="what the network outputs")
    network: Network = Field(default_factory=lambda: MLPNetwork(kind="mlp"))


# ---------------------------------------------------------------------------- objective

WEIGHTINGS = ("sigma2", "likelihood", "uniform")


class DSMObjective(Section):
    """Denoising score matching: E_t lambda(t) E |s(x_t, t) + z / s(t)|^2."""

    kind: Literal["dsm"]
    weighting: str = Field("sigma2", description="sigma2 | likelihood | uniform | an expression in t")


class DDPMObjective(Section):
    """DDPM's simple loss: E_i E |eps(x_i, i) - z|^2 over uniform integer i."""

    kind: Literal["ddpm"]


Objective = Annotated[Union[DSMObjective, DDPMObjective], Field(discriminator="kind")]

# ---------------------------------------------------------------------------- train


class TrainSpec(Section):
    steps: PositiveInt = Field(10000, description="optimizer steps")
    batch_size: PositiveInt = 512
    lr: PositiveFloat = Field(2e-4, description="peak learning rate (Adam)")
    warmup: Annotated[int, Field(ge=0)] = Field(100, description="linear lr warm-up steps")
    weight_decay: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(0.0, description="AdamW decay")
    grad_clip: PositiveFloat | None = Field(1.0, description="max global grad norm; null turns clipping off")
    ema: Annotated[float, Field(ge=0, lt=1)] = Field(0.999, description="EMA decay of the weights")
    precision: Literal["fp32", "bf16"] = "fp32"
    compile: bool = Field(True, description="torch.compile the loss step")
    checkpoint_every: PositiveInt = Field(1000, description="steps between checkpoints")
    log_every: PositiveInt = Field(50, description="steps between logged events")


# ---------------------------------------------------------------------------- sample


class _SamplerBase(Section):
    steps: PositiveInt = Field(1000, description="number of sampler steps")
    n: PositiveInt = Field(5000, description="number of samples")
    batch_size: PositiveInt = Field(5000, description="samples drawn at once")
    denoise: bool = Field(True, description="finish with the Tweedie denoiser D(x, t_end)")


class EMSampler(_SamplerBase):
    """Reverse SDE, Euler-Maruyama."""

    sampler: Literal["em"]


class LangevinCorrector(Section):
    kind: Literal["langevin"]
    snr: PositiveFloat = Field(0.16, description="signal-to-noise ratio setting the step size")
    steps: PositiveInt = Field(1, description="corrector steps per predictor step")


class NoCorrector(Section):
    kind: Literal["none"]


Corrector = Annotated[Union[LangevinCorrector, NoCorrector], Field(discriminator="kind")]


class PCSampler(_SamplerBase):
    """Predictor-corrector (Song et al. 2021)."""

    sampler: Literal["pc"]
    predictor: Literal["reverse_diffusion", "em"] = "reverse_diffusion"
    corrector: Corrector = Field(default_factory=lambda: LangevinCorrector(kind="langevin"))


class ODESampler(_SamplerBase):
    """Probability-flow ODE with a fixed-step integrator."""

    sampler: Literal["ode"]
    method: Literal["euler", "heun", "rk4"] = "heun"


class AncestralSampler(_SamplerBase):
    """DDPM ancestral sampling over a (respaced) discrete chain."""

    sampler: Literal["ancestral"]


class DDIMSampler(_SamplerBase):
    """DDIM; eta=0 is deterministic, eta=1 matches ancestral noise."""

    sampler: Literal["ddim"]
    eta: Annotated[float, Field(ge=0, le=1)] = 0.0


Sampler = Annotated[
    Union[EMSampler, PCSampler, ODESampler, AncestralSampler, DDIMSampler], Field(discriminator="sampler")
]
DISCRETE_SAMPLERS = ("ancestral", "ddim")

# ---------------------------------------------------------------------------- eval


class EvalSpec(Section):
    metrics: list[Literal["mmd", "swd"]] = Field(default_factory=lambda: ["mmd", "swd"])
    n_reference: PositiveInt | None = Field(None, description="fresh data samples to compare with (default: sample.n)")


# ---------------------------------------------------------------------------- root


class Spec(Section):
    """A whole spec, format version 1."""

    scorec: Literal[1] = Field(..., description="format version")
    name: str = Field(..., pattern=NAME_PATTERN, max_length=64, description="names the run directory")
    seed: Annotated[int, Field(ge=0, lt=2**31)] = 0
    data: Data
    process: Process
    model: ModelSpec = Field(default_factory=ModelSpec)
    objective: Objective
    train: TrainSpec = Field(default_factory=TrainSpec)
    sample: Sampler
    eval: EvalSpec = Field(default_factory=EvalSpec)

    @property
    def is_discrete(self) -> bool:
        return self.process.kind == "discrete"

    @property
    def data_shape(self) -> tuple[int, ...]:
        return (self.data.dim,) if isinstance(self.data, GMMData) else (2,)


def fill_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults that depend on another section; returns a new dict.

    The objective defaults to dsm for continuous processes and ddpm for discrete ones;
    the sampler to pc and ancestral respectively.
    """
    out = dict(raw)
    process = out.get("process")
    discrete = isinstance(process, dict) and process.get("kind") == "discrete"
    objective = out.get("objective")
    if objective is None:
        out["objective"] = {"kind": "ddpm" if discrete else "dsm"}
    elif isinstance(objective, dict) and "kind" not in objective:
        out["objective"] = {"kind": "ddpm" if discrete else "dsm", **objective}
    sample = out.get("sample")
    if sample is None:
        out["sample"] = {"sampler": "ancestral" if discrete else "pc"}
    elif isinstance(sample, dict) and "sampler" not in sample:
        out["sample"] = {"sampler": "ancestral" if discrete else "pc", **sample}
    if isinstance(out.get("sample"), dict) and isinstance(out["sample"].get("corrector"), dict):
        corrector = out["sample"]["corrector"]
        if "kind" not in corrector:
            out["sample"] = {**out["sample"], "corrector": {"kind": "langevin", **corrector}}
    if isinstance(out.get("sample"), dict) and out["sample"].get("corrector", "") is None:
        out["sample"] = {**out["sample"], "corrector": {"kind": "none"}}
    model = out.get("model")
    if isinstance(model, dict) and isinstance(model.get("network"), dict) and "kind" not in model["network"]:
        out["model"] = {**model, "network": {"kind": "mlp", **model["network"]}}
    return out
