"""Spec format v1: the pydantic surface schema (the user's words, validated).

The sections that choose a component (data, process, model.network,
model.parameterization, objective, sample) are discriminated unions assembled from the
component registry; every option lives in its component's module. Every model forbids
unknown keys; numbers are strict (a quoted "1e-4" is an error, not a silent float).
Defaults that depend on another section (the default objective and sampler depend on
the process) are filled in by `fill_defaults` on the raw tree before validation, so the
validated Spec states every choice explicitly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from ..components import registry
from ..components.options import NonNegativeInt, PositiveFloat, PositiveInt, Section, int_choice
from ..components.registry import FamilyField
from ..metrics import registry as metric_registry
from .likelihood import NLLOptions, VLBOptions

NAME_PATTERN = r"^[a-z0-9_-]+$"

# The sections that choose a component: unions over the registry's members.
Data = registry.union("data")
Process = registry.union("process")
Network = registry.union("network")
Parameterization = registry.union("parameterization")
Objective = registry.union("objective")
Sampler = registry.union("sampler")
Condition = registry.union("condition")


class ModelSpec(Section):
    parameterization: Parameterization = Field(
        default_factory=lambda: registry.default_kind("parameterization"), description="what the network outputs")
    network: Network = Field(default_factory=lambda: registry.default_options("network"),
                             description="the network: its architecture, or the exact score")
    # absent (not null) in the resolved spec when unset: an unconditional spec resolves as before
    condition: Annotated[Condition | None, FamilyField("condition")] = Field(
        None, exclude_if=lambda v: v is None, description="condition on the data's labels: {kind: class, dropout: 0.1}")


class TrainSpec(Section):
    steps: PositiveInt = Field(10000, description="optimizer steps")
    batch_size: PositiveInt = Field(512, description="samples per optimizer step (over all processes)")
    lr: PositiveFloat = Field(2e-4, description="peak learning rate (Adam)")
    warmup: NonNegativeInt = Field(100, description="linear lr warm-up steps")
    schedule: Literal["cosine", "constant"] = Field(
        "cosine", description="lr after the warm-up: cosine decay to 0 at the run's last step, or constant")
    weight_decay: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(0.0, description="AdamW decay")
    grad_clip: PositiveFloat | None = Field(1.0, description="max global grad norm; null turns clipping off")
    ema: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.999, description="EMA decay of the weights, warmed up as min(ema, (1 + step) / (10 + step))")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="fp32, or bf16 autocast of the loss")
    compile: bool = Field(True, description="torch.compile the loss step, and the network when sampling")
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = Field(
        "default", description="torch.compile's mode")
    distributed: Literal["ddp", "fsdp"] = Field(
        "ddp", description="several processes: ddp (a replica each) | fsdp (weights sharded block by block)")
    checkpoint_every: PositiveInt = Field(1000, description="steps between checkpoints")
    log_every: PositiveInt = Field(50, description="steps between logged events")
    log: list[Literal["tensorboard", "wandb", "mlflow"]] = Field(
        default_factory=list, description="experiment trackers that also get the training scalars (events.jsonl is "
        "always written): tensorboard (RUN_DIR/tensorboard/), wandb (RUN_DIR/wandb/, offline unless WANDB_MODE or "
        "WANDB_API_KEY is set), mlflow (MLFLOW_TRACKING_URI, else RUN_DIR/mlflow/mlflow.db); each needs its extra "
        "installed where train.py runs (pip install 'scorec[wandb]'), which scorec check cannot see")


class EvalSpec(Section):
    metrics: list[Literal[metric_registry.names()]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: metric_registry.defaults(metric_registry.POINTS),
        description=f"metrics to compute, each with its floor where it has one ({metric_registry.described()}); "
                    "default: the registry's defaults for the data")
    nll: NLLOptions = Field(default_factory=NLLOptions, description="how nll is computed")
    vlb: VLBOptions = Field(default_factory=VLBOptions, description="how vlb is computed")
    features: Literal["classifier", "inception"] = Field(
        "classifier", description="image features: a small CNN trained on the train split (labels needed), "
                                  "or the FID Inception network (extra scorec[images])")
    n_reference: PositiveInt | None = Field(None, description="fresh data samples to compare with (default: sample.n)")


class Spec(Section):
    """A whole spec, format version 1."""

    scorec: int_choice(1) = Field(..., description="format version")
    name: str = Field(..., pattern=NAME_PATTERN, max_length=64, description="names the run directory")
    seed: Annotated[int, Field(ge=0, lt=2**31)] = Field(0, description="seeds data, training and sampling")
    data: Data = Field(..., description="the training data")
    process: Process = Field(..., description="the forward noising process")
    model: ModelSpec = Field(default_factory=ModelSpec, description="the network and what it outputs")
    objective: Objective = Field(..., description="the training loss (default: the process's own)")
    train: TrainSpec = Field(default_factory=TrainSpec, description="the optimizer and its schedule")
    sample: Sampler = Field(..., description="the sampler (default: the process's own)")
    eval: EvalSpec = Field(default_factory=EvalSpec, description="how samples are judged")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec format as users write it (for editors: `scorec schema`).

    pydantic's schema of Spec, except that `objective` and `sample` are optional: a spec may
    leave them out, and fill_defaults picks the process's default objective and sampler.
    """
    schema = Spec.model_json_schema()
    implied = ("objective", "sample")
    schema["required"] = [name for name in schema.get("required", []) if name not in implied]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "scorec spec, format version 1"
    return schema


def family_of(info: FieldInfo) -> str | None:
    """The component family a spec field chooses from, if any."""
    return next((m.family for m in info.metadata if isinstance(m, FamilyField)), None)


def fill_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """Fill in the component kinds a spec leaves out; returns a new tree.

    A section that chooses a component but names no kind gets the family's default: for
    objective and sampler the one declared default for the process's traits (e.g. the
    discrete chain's own objective), elsewhere the family's default. `key: null` picks the
    component that accepts null (a corrector of kind none). Missing required sections
    stay missing, for validation to report.
    """
    process = raw.get("process") if isinstance(raw, dict) else None
    kind = process.get("kind") if isinstance(process, dict) else None
    known = registry.components("process")
    traits = known[kind].traits if isinstance(kind, str) and kind in known else ()
    filled = _fill(Spec, raw, traits)
    for section in ("objective", "sample"):  # required, but the process implies them
        if isinstance(filled, dict) and section not in filled:
            family = family_of(Spec.model_fields[section])
            default = registry.default_kind(family, traits)
            if default is not None:
                filled[section] = {registry.FAMILIES[family].tag: default}
    model, sample = filled.get("model"), filled.get("sample")
    if isinstance(model, dict) and isinstance(model.get("condition"), dict) and isinstance(sample, dict):
        filled["sample"] = {**sample, "labels": sample.get("labels", "balanced")}  # a conditional model's labels
    if isinstance(filled, dict):
        _fill_metrics(filled)
    return filled


def _fill_metrics(filled: dict[str, Any]) -> None:
    """eval.metrics, where a spec names none: the metric registry's defaults for the data's samples."""
    ev = filled.get("eval", {})
    data = filled.get("data")
    source = data.get(registry.FAMILIES["data"].tag) if isinstance(data, dict) else None
    if not isinstance(ev, dict) or "metrics" in ev or not isinstance(source, str) \
            or source not in registry.components("data"):
        return
    samples = metric_registry.samples_of(registry.get("data", source).traits)
    filled["eval"] = {**ev, "metrics": metric_registry.defaults(samples)}


def _fill(model: type[BaseModel], raw: Any, traits: tuple[str, ...]) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = dict(raw)
    for name, info in model.model_fields.items():
        if name not in out:
            continue
        value = out[name]
        family = family_of(info)
        if family is not None and not registry.FAMILIES[family].scalar:
            tag = registry.FAMILIES[family].tag
            if value is None and registry.null_kind(family):
                value = {tag: registry.null_kind(family)}
            elif isinstance(value, dict) and tag not in value:
                default = registry.default_kind(family, traits)
                value = {tag: default, **value} if default is not None else value
            members = registry.components(family)
            kind = value.get(tag) if isinstance(value, dict) else None
            if isinstance(kind, str) and kind in members:  # any other tag is validation's to report
                value = _fill(members[kind].options, value, traits)
            out[name] = value
        elif isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            out[name] = _fill(info.annotation, value, traits)
    return out
