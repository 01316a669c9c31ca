"""The IR: what the emitter needs, fully resolved, as frozen dataclasses.

A tagged union mirroring the spec: one node type per component (defined in the
component's own module, subclassing its family's node here), so no struct carries
optional fields of other variants. Every derived quantity (the process's kernel, the
objective's weight, the sampler's grid and NFE) is computed, and all mathematics is an
Expr over named constants. The IR is JSON-serialisable; its canonical JSON is hashed
into the spec hash that emitted files carry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from . import expr as E

IR_VERSION = 2


@dataclass(frozen=True)
class Constant:
    """A named constant of emitted code, e.g. BETA_MIN = 0.1, from the spec's own parameter."""

    name: str
    value: float | int
    doc: str


@dataclass(frozen=True)
class Definition:
    """A named function of time in emitted code, e.g. sigma(t) = sqrt(1 - exp(-int_beta(t)))."""

    name: str
    expr: E.Expr
    doc: str


@dataclass(frozen=True, kw_only=True)
class Node:
    """The IR node of one component; `kind` is its tag, `family` says which registry it is in."""

    family: ClassVar[str] = ""
    kind: str


@dataclass(frozen=True, kw_only=True)
class DataNode(Node):
    family: ClassVar[str] = "data"
    shape: tuple[int, ...]  # shape of one sample

    def classes(self) -> int | None:
        """How many class labels the data has (labels 0 .. classes - 1); None: unlabelled."""
        return None


@dataclass(frozen=True, kw_only=True)
class ProcessNode(Node):
    family: ClassVar[str] = "process"
    equation: str  # the forward process as people write it
    constants: tuple[Constant, ...]  # the spec's parameters, by their emitted names

    def constant(self, name: str) -> float | int:
        return next(c.value for c in self.constants if c.name == name)

    def env(self) -> dict[str, float]:
        """Values of the named constants, for evaluating Exprs at compile time."""
        return {c.name: float(c.value) for c in self.constants}


@dataclass(frozen=True, kw_only=True)
class ConditionNode(Node):
    """What a conditional model is conditioned on (model.condition)."""

    family: ClassVar[str] = "condition"
    dropout: float  # share of training conditions replaced by the null one (classifier-free guidance)


@dataclass(frozen=True, kw_only=True)
class NetworkNode(Node):
    family: ClassVar[str] = "network"


@dataclass(frozen=True, kw_only=True)
class ParameterizationNode(Node):
    family: ClassVar[str] = "parameterization"


@dataclass(frozen=True, kw_only=True)
class ObjectiveNode(Node):
    family: ClassVar[str] = "objective"
    equation: str  # the loss as people write it


@dataclass(frozen=True, kw_only=True)
class PredictorNode(Node):
    family: ClassVar[str] = "predictor"
    nfe: int = 1  # network evaluations per step


@dataclass(frozen=True, kw_only=True)
class CorrectorNode(Node):
    family: ClassVar[str] = "corrector"
    nfe: int  # network evaluations per predictor step


@dataclass(frozen=True, kw_only=True)
class SamplerNode(Node):
    family: ClassVar[str] = "sampler"
    steps: int
    n: int
    batch_size: int
    final_denoise: bool  # finish with Tweedie's denoiser at the grid's last time
    nfe: int  # network evaluations per sample, counted by the lowering (0: counted when sampling)
    grid: str  # how the time grid is laid out, in words
    # a conditional model's sampling: the labels asked for and classifier-free guidance (absent otherwise)
    labels: Any = dataclasses.field(default=None, metadata={"absent": True})
    guidance: Any = dataclasses.field(default=None, metadata={"absent": True})


@dataclass(frozen=True)
class TrainIR:
    steps: int
    batch_size: int
    lr: float
    warmup: int
    schedule: str  # cosine | constant
    weight_decay: float
    grad_clip: float | None
    ema: float
    precision: str
    compile: bool
    compile_mode: str
    distributed: str  # ddp | fsdp: how several processes share the weights
    checkpoint_every: int
    log_every: int
    log: tuple[str, ...]  # experiment trackers besides events.jsonl


@dataclass(frozen=True)
class LikelihoodIR:
    """What the emitted likelihood.py computes on held-out data; `method` names its fragment
    (templates/likelihood/<method>.py.j2)."""

    method: str
    metric: str  # the metrics.json key it fills
    n: int  # held-out points
    batch_size: int


@dataclass(frozen=True)
class BoundLikelihoodIR(LikelihoodIR):
    """A discrete chain's variational bound (method variational_bound, metric vlb)."""

    variance: str  # large | small: the model's reverse step variance, beta_i or beta~_i


@dataclass(frozen=True)
class FlowLikelihoodIR(LikelihoodIR):
    """The probability-flow ODE's likelihood (method probability_flow, metric nll), by dopri5."""

    estimator: str  # exact | hutchinson: the velocity's divergence
    probes: int  # hutchinson: random vectors per divergence
    noise: str  # hutchinson: rademacher | gaussian
    rtol: float
    atol: float


@dataclass(frozen=True)
class EvalIR:
    metrics: tuple[str, ...]
    n_reference: int
    features: str = "classifier"  # for image metrics: classifier | inception
    likelihood: LikelihoodIR | None = None  # emits likelihood.py when a metric asks for it


@dataclass(frozen=True)
class ProgramIR:
    name: str
    seed: int
    data: DataNode
    process: ProcessNode
    network: NetworkNode
    parameterization: ParameterizationNode
    objective: ObjectiveNode
    train: TrainIR | None  # None when nothing is trained (an exact score)
    sampler: SamplerNode
    eval: EvalIR
    version: int = IR_VERSION
    condition: ConditionNode | None = dataclasses.field(default=None, metadata={"absent": True})

    @property
    def trains(self) -> bool:
        return self.train is not None

    def components(self) -> dict[str, Node]:
        """The top-level component nodes by family."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {name: value for name, value in values.items() if isinstance(value, Node)}


def present_fields(node: Any) -> list[dataclasses.Field]:
    """A node's fields, less the optional ones it leaves out (metadata "absent": a field that is
    None is not there at all, so an unconditional program's IR and hashes are what they were)."""
    return [f for f in dataclasses.fields(node) if not (f.metadata.get("absent") and getattr(node, f.name) is None)]


def to_json(node: Any) -> Any:
    """JSON form of any IR node; Exprs print as readable text."""
    if isinstance(node, E.EXPR_TYPES):
        return E.to_text(node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return {f.name: to_json(getattr(node, f.name)) for f in present_fields(node)}
    if isinstance(node, (tuple, list)):
        return [to_json(x) for x in node]
    return node


def canonical_json(ir: ProgramIR) -> str:
    return json.dumps(to_json(ir), sort_keys=True, separators=(",", ":"))


def spec_hash(ir: ProgramIR) -> str:
    """sha256 of the canonical IR: equal for specs that mean the same program."""
    return hashlib.sha256(canonical_json(ir).encode()).hexdigest()


# Train fields that say how long or how verbosely to train, not what is trained.
# How long and how often, how processes share the work (the checkpoint has one format either way),
# and which trackers see it.
_SCHEDULE_FIELDS = ("steps", "checkpoint_every", "log_every", "distributed", "log")
# What the trained weights depend on.
_TRAINING_PARTS = ("version", "seed", "data", "process", "condition", "network", "parameterization", "objective")


def training_hash(ir: ProgramIR) -> str:
    """sha256 of what determines the trained weights' meaning: data, process, model,
    objective and optimizer. Sampling and evaluation settings, and the number of steps,
    are left out, so a checkpoint stays valid when they change (resample; train longer)."""
    train = to_json(ir.train) if ir.train is not None else None
    if train is not None:
        train = {k: v for k, v in train.items() if k not in _SCHEDULE_FIELDS}
    parts = {name: to_json(getattr(ir, name)) for name in _TRAINING_PARTS if getattr(ir, name) is not None}
    parts["train"] = train
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
