"""What a conditional model's sampling adds to every sampler: the labels asked for (`sample.labels`)
and classifier-free guidance (`sample.guidance`).

Guidance is one room that every sampler goes through: sample.py's GuidedScoreModel changes only
the network call (condition/_guidance.py.j2), so each sampler, whatever it asks of the model
(score, eps, x0, energy), gets the guided model. These options are sampling settings: they
are not part of the training hash, and `scorec sample RUN_DIR --set sample.guidance.scale=3`
resamples a trained run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ...core.diagnostics import SpecError
from ..options import FieldError, NonNegativeFloat, NonNegativeInt, Section

UnitFloat = Annotated[float, Field(allow_inf_nan=False)]  # range-checked by GuidanceOptions, with a hint
# The process's time as a number in [0, 1] (0 data, 1 noise), by what the process's time is.
NORMALIZED_TIME = (
    ("continuous_time", "t", "t"),
    ("discrete_time", "t.float() / N_STEPS", "i / N_STEPS"),
    ("noise_levels", "1 - t.float() / (N_LEVELS - 1)", "1 - i / (N_LEVELS - 1), level 0 the noisiest"),
)
ADD_CONDITION = "add model.condition: {kind: class, dropout: 0.1} (labels from the data) and retrain"


class GuidanceOptions(Section):
    """Classifier-free guidance (Ho & Salimans 2022): out = out_null + scale (out_label - out_null)."""

    scale: NonNegativeFloat | list[NonNegativeFloat] = Field(
        1.0, description="1 conditional, 0 unconditional, > 1 guided (diffusers' guidance_scale is the same w); "
                         "a list sweeps the scales (samples.npz holds the first)")
    interval: list[UnitFloat] = Field(
        default_factory=lambda: [0.0, 1.0],
        description="[t_lo, t_hi]: guide only there (Kynkaenniemi et al. 2024), t the process's time in [0, 1]")
    rescale: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="phi of Lin et al. 2024: mix in the guided denoiser rescaled to the conditional one's std")

    @model_validator(mode="after")
    def _check(self):
        if isinstance(self.scale, list):
            if not self.scale:
                raise FieldError(("scale",), "a sweep needs at least one guidance scale")
            if len(set(self.scale)) != len(self.scale):
                raise FieldError(("scale",), "the guidance scales of a sweep must differ", "list each scale once")
        if len(self.interval) != 2:
            raise FieldError(("interval",), f"interval needs two times [t_lo, t_hi] (got {len(self.interval)})")
        where = "[0, 1] (0 the data, 1 the noise end of the process)"
        for i, t in enumerate(self.interval):
            if not 0 <= t <= 1:
                raise FieldError((("interval", i),), f"the guidance interval's times lie in {where}; got {t:g}",
                                 "e.g. interval: [0.1, 0.9]; [0, 1] guides every step")
        if not self.interval[0] < self.interval[1]:
            raise FieldError(("interval",), f"t_lo ({self.interval[0]:g}) must be smaller than t_hi "
                             f"({self.interval[1]:g})", "write the interval as [t_lo, t_hi]")
        return self

    @property
    def scales(self) -> tuple[float, ...]:
        return tuple(float(s) for s in (self.scale if isinstance(self.scale, list) else [self.scale]))


@dataclass(frozen=True)
class LabelsNode:
    """The labels of the n samples: sample i asks for cycle[i % len(cycle)]; `data`: in the shares
    of the training labels (cycle empty)."""

    kind: Literal["balanced", "data", "list"]
    cycle: tuple[int, ...]
    classes: int


@dataclass(frozen=True)
class GuidanceNode:
    scales: tuple[float, ...]  # the first is samples.npz's; the others a sweep
    interval: tuple[float, float]  # guided for t_lo <= normalized time <= t_hi
    rescale: float  # Lin et al.'s phi
    time_code: str  # the normalized time of the process's t, as torch code
    time_text: str  # the same in words


LabelChoice = Literal["balanced", "all"] | list[NonNegativeInt] | NonNegativeInt | None
LABELS_DESCRIPTION = ("conditional models: balanced (each class in turn) | all (the data's class shares) "
                      "| [labels] (in turn) | one label")
GUIDANCE_DESCRIPTION = "conditional models: classifier-free guidance {scale, interval, rescale}"


def unset(value: Any) -> bool:
    """Left out of the resolved spec when unset: an unconditional spec resolves as it did."""
    return value is None


def lower_conditional(options: Any, ctx) -> dict[str, Any]:
    """The sampler node's labels and guidance (none for an unconditional model), every mistake located."""
    condition = ctx.condition
    if condition is None:
        for key in ("labels", "guidance"):
            if getattr(options, key) is not None:
                raise ctx.error(key, f"sample.{key} needs a conditional model, and model.condition is not set",
                                ADD_CONDITION)
        return {}
    return {"labels": _labels(options.labels, ctx, condition.classes),
            "guidance": _guidance(options.guidance, ctx, condition)}


def _labels(value: Any, ctx, classes: int) -> LabelsNode:
    if value is None or value == "balanced":
        return LabelsNode("balanced", tuple(range(classes)), classes)
    if value == "all":
        return LabelsNode("data", (), classes)
    asked = value if isinstance(value, list) else [value]
    if not asked:
        raise ctx.error("labels", "sample.labels is an empty list", "list at least one label, or use balanced")
    for i, label in enumerate(asked):
        if label >= classes:
            span = ctx.span("labels", i) if isinstance(value, list) else ctx.span("labels")
            raise SpecError(f"label {label} is out of range: the data's labels are 0 .. {classes - 1}", span,
                            f"use labels below {classes}, or balanced for every class")
    return LabelsNode("list", tuple(asked), classes)


def _guidance(options: GuidanceOptions | None, ctx, condition) -> GuidanceNode | None:
    if options is None:
        return None
    exact = ctx.has("network", "exact")  # the analytic network knows p(x) itself: no dropout needed
    if condition.dropout == 0 and not exact and any(s != 1 for s in options.scales):
        raise SpecError("guidance with a scale other than 1 needs the unconditional model, and this one is "
                        "trained without it (model.condition.dropout: 0)", ctx.span("guidance", "scale"),
                        "train with model.condition.dropout > 0 (0.1 is usual), or sample with scale: 1")
    if options.rescale > 0 and ctx.has("parameterization", "scalar_energy"):
        raise SpecError("guidance rescale acts on the denoiser, which an energy gives only through its "
                        "gradient", ctx.span("guidance", "rescale"),
                        "drop rescale (0), or use a parameterization such as eps")
    time = next(((code, text) for trait, code, text in NORMALIZED_TIME if ctx.has("process", trait)), None)
    if time is None:
        if tuple(options.interval) != (0.0, 1.0):
            raise SpecError("a guidance interval needs a process with time; this one has none",
                            ctx.span("guidance", "interval"), "remove the interval: every step is guided")
        time = ("t", "t")
    return GuidanceNode(scales=options.scales, interval=(options.interval[0], options.interval[1]),
                        rescale=float(options.rescale), time_code=time[0], time_text=time[1])


def guided_nfe(calls: int, guidance: GuidanceNode | None) -> int:
    """Network evaluations per sample of `calls` model calls: a guided call evaluates the network on the
    label and on the null label (one batch of 2B rows: two evaluations per sample). 0 (counted when
    sampling) where it depends on the times the sampler visits (an interval short of [0, 1])."""
    if guidance is None or guidance.scales[0] in (0.0, 1.0):
        return calls  # conditional alone (1) or unconditional alone (0): one pass
    return 2 * calls if guidance.interval == (0.0, 1.0) else 0
