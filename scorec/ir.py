"""The IR: what the emitter needs, fully resolved, as frozen dataclasses.

Every spec choice is explicit here, every derived quantity (the Gaussian kernel of the
process, the objective's weight, the sampler's time grid and NFE) is computed, and all
mathematics is an Expr. The IR is JSON-serialisable; its canonical JSON is hashed into
the spec hash that emitted files carry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from . import expr as E

IR_VERSION = 1


@dataclass(frozen=True)
class Definition:
    """A named function of time in emitted code, e.g. sigma(t) = sqrt(1 - exp(-int_beta(t)))."""

    name: str
    expr: E.Expr
    doc: str


@dataclass(frozen=True)
class DataIR:
    source: str  # swiss_roll ... | gmm
    n: int  # training set size
    shape: tuple[int, ...]  # shape of one sample
    noise: float | None = None  # toy jitter (None: the toy's default)
    weights: tuple[float, ...] = ()  # gmm mixture weights
    means: tuple[tuple[float, ...], ...] = ()  # gmm means, k x d
    stds: tuple[float, ...] = ()  # gmm component stds


@dataclass(frozen=True)
class ProcessIR:
    kind: str  # vp | subvp | ve | discrete
    equation: str  # the forward process as people write it
    continuous: bool
    # continuous processes: functions of t in [t_eps, 1]
    t_eps: float | None = None
    definitions: tuple[Definition, ...] = ()  # in dependency order; always alpha, sigma, g
    drift_coef: E.Expr | None = None  # f(x, t) = drift_coef(t) * x
    prior_std: float = 1.0  # x_1 ~ N(0, prior_std^2 I)
    # discrete processes: tables over i = 1..N
    timesteps: int | None = None
    schedule: str | None = None
    betas: E.Expr | None = None  # beta_i as an expression in i and N (linear)
    alpha_bar: E.Expr | None = None  # alpha_bar(i) as an expression in i and N (cosine)
    max_beta: float = 0.999  # cosine schedules clip beta_i here


@dataclass(frozen=True)
class ModelIR:
    parameterization: str  # eps | score
    network: str  # mlp | analytic
    hidden: tuple[int, ...] = ()
    activation: str = "silu"
    time_embedding: str = "fourier"
    embedding_dim: int = 64


@dataclass(frozen=True)
class ObjectiveIR:
    kind: str  # dsm | ddpm
    weighting: str | None = None  # sigma2 | likelihood | uniform | expression
    weight: E.Expr | None = None  # lambda(t), dsm only
    equation: str = ""


@dataclass(frozen=True)
class TrainIR:
    steps: int
    batch_size: int
    lr: float
    warmup: int
    weight_decay: float
    grad_clip: float | None
    ema: float
    precision: str
    compile: bool
    checkpoint_every: int
    log_every: int


@dataclass(frozen=True)
class SamplerIR:
    sampler: str  # em | pc | ode | ancestral | ddim
    steps: int
    n: int
    batch_size: int
    denoise: bool
    nfe: int  # network evaluations per sample, counted by the lowering
    grid: str  # how the time grid is laid out, in words
    predictor: str | None = None  # pc
    corrector: str | None = None  # pc: langevin | none
    corrector_snr: float | None = None
    corrector_steps: int = 0
    method: str | None = None  # ode
    eta: float | None = None  # ddim


@dataclass(frozen=True)
class EvalIR:
    metrics: tuple[str, ...]
    n_reference: int


@dataclass(frozen=True)
class ProgramIR:
    name: str
    seed: int
    data: DataIR
    process: ProcessIR
    model: ModelIR
    objective: ObjectiveIR
    train: TrainIR | None  # None when nothing is trained (analytic score)
    sample: SamplerIR
    eval: EvalIR
    version: int = IR_VERSION

    @property
    def trains(self) -> bool:
        return self.train is not None


def to_json(node: Any) -> Any:
    """JSON form of any IR node; Exprs print as readable text."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        if isinstance(node, (E.Num, E.Var, E.Neg, E.BinOp, E.Call)):
            return E.to_text(node)
        return {f.name: to_json(getattr(node, f.name)) for f in dataclasses.fields(node)}
    if isinstance(node, (tuple, list)):
        return [to_json(x) for x in node]
    return node


def canonical_json(ir: ProgramIR) -> str:
    return json.dumps(to_json(ir), sort_keys=True, separators=(",", ":"))


def spec_hash(ir: ProgramIR) -> str:
    """sha256 of the canonical IR: equal for specs that mean the same program."""
    return hashlib.sha256(canonical_json(ir).encode()).hexdigest()


# Train fields that say how long or how verbosely to train, not what is trained.
_SCHEDULE_FIELDS = ("steps", "checkpoint_every", "log_every")


def training_hash(ir: ProgramIR) -> str:
    """sha256 of what determines the trained weights' meaning: data, process, model,
    objective and optimizer. Sampling and evaluation settings, and the number of steps,
    are left out, so a checkpoint stays valid when they change (resample; train longer)."""
    train = to_json(ir.train) if ir.train is not None else None
    if train is not None:
        train = {k: v for k, v in train.items() if k not in _SCHEDULE_FIELDS}
    parts = {"version": ir.version, "seed": ir.seed, "data": to_json(ir.data), "process": to_json(ir.process),
             "model": to_json(ir.model), "objective": to_json(ir.objective), "train": train}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
