"""The metric registry: name -> metric (DESIGN.md §2: a metric is a component of its own).

A metric is one module under scorec/metrics/kinds/: its compute function, decorated with
`@metric(...)`, which declares everything the rest of scorec knows of it:
- its name (a word of the spec's `eval.metrics`) and a few words of description;
- what it compares (`on`: points, images, or any samples, flattened) and what it needs of the
  chosen components, as their traits (`needs`: a data source's `mixture` or `labelled`, an
  objective's `normalized`...), of the image features (`features`), of training (`trained`);
- whether it is a default of `eval.metrics` (`default`: on which samples) or computed, listed or
  not, wherever it applies (`automatic=True`) or wherever the chosen components have some traits
  (`automatic={family: traits}`; the pseudo-family `run` has the trait `trained` where weights are
  trained);
- whether it compares samples with data (`of_samples`; False for a likelihood, which measures the
  model itself on held-out data and is computed even when no sample is finite);
- its floor: by default the same computation with an independent draw of real data of the
  samples' size in place of the samples (`<key>_floor` in metrics.json); `floor=False` for a
  metric that compares no samples with data, `unfloored` for keys that are no quality values
  (a p-value);
- the emitted program that computes it, if any (`program`: `likelihood` for code/likelihood.py, which
  the evaluation launches); that program's lowering (scorec/lower/<program>.py), numerics
  (scorec/metrics/<program>.py) and templates (templates/<program>.py.j2, templates/<program>/) are
  part of the metric's home, shared by the metrics it computes;
- how it compares one class of a conditional model's samples with that class's data (`per_class`:
  a distance fn(a, b, seed) between two sets of vectors, points or image classifier features);
- what the report says of it beyond its numbers (`report(run_dir, metrics) -> text | None`, under
  `heading`): how a likelihood was computed, with its settings.

The schema (the `eval.metrics` options, the JSON Schema), the lowering's checks and hints, the
runner's evaluation, the CLI's summary and the report read these declarations; nothing else names
a metric. This module and the declarations import no numpy, torch, scipy or sklearn: the compiler
reads them; compute functions import what they use when they run.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

POINTS, IMAGES, ANY = "points", "images", "any"
SAMPLE_KINDS = (POINTS, IMAGES)


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable[[Any], dict]  # fn(evaluation: metrics.evaluation.Evaluation) -> {key: number}
    description: str
    on: str = ANY  # the samples it compares: points, images (C, H, W), or any (flattened)
    needs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # family -> traits the chosen component has
    features: tuple[str, ...] = ()  # image metrics: the eval.features that give what it needs
    trained: bool = False  # it measures trained weights (no exact network)
    default: tuple[str, ...] = ()  # in eval.metrics when a spec names none, on these samples
    automatic: bool | dict[str, tuple[str, ...]] = False  # computed, listed or not: where it applies | has these
    of_samples: bool = True  # it compares samples with data (False: it measures the model itself)
    floor: bool = True  # <key>_floor: the same computation with fresh data in place of the samples
    unfloored: tuple[str, ...] = ()  # keys it returns that are no quality values (p-values): no floor
    program: str = ""  # the emitted program computing it (code/<program>.py), launched by the evaluation
    report: Callable[[Any, dict], str | None] | None = None  # fn(run_dir, metrics_json) -> a paragraph
    heading: str = ""  # the report's heading over that paragraph
    per_class: Callable[[Any, Any, int], float] | None = None  # distance(a, b, seed) of a class's vectors
    module: str = ""

    def applies_to(self, samples: str) -> bool:
        return self.on in (ANY, samples)


_REGISTRY: dict[str, Metric] = {}


def metric(name: str, *, description: str, on: str = ANY, needs: dict[str, tuple[str, ...]] | None = None,
           features: tuple[str, ...] = (), trained: bool = False, default: tuple[str, ...] = (),
           automatic: bool | dict[str, tuple[str, ...]] = False, of_samples: bool = True, floor: bool = True,
           unfloored: tuple[str, ...] = (), program: str = "", report: Callable | None = None, heading: str = "",
           per_class: Callable | None = None):
    """Decorator registering a compute function fn(evaluation) -> {key: number} as metric `name`."""
    if on not in (ANY, *SAMPLE_KINDS) or not set(default) <= set(SAMPLE_KINDS):
        raise TypeError(f"metric {name!r}: `on` is one of {ANY}, {', '.join(SAMPLE_KINDS)}; `default` a tuple of "
                        f"{', '.join(SAMPLE_KINDS)}")

    def register(compute: Callable) -> Callable:
        if name in _REGISTRY:
            raise TypeError(f"metric '{name}' is registered twice")
        _REGISTRY[name] = Metric(name, compute, description, on, dict(needs or {}), tuple(features), trained,
                                 tuple(default), automatic, of_samples, floor and of_samples, tuple(unfloored),
                                 program, report, heading, per_class, compute.__module__)
        return compute

    return register


_loaded = False


def metrics() -> dict[str, Metric]:
    """Every registered metric by name: each module of scorec/metrics/kinds/ registers itself."""
    global _loaded
    if not _loaded:
        _loaded = True
        package = importlib.import_module(f"{__package__}.kinds")
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            importlib.import_module(info.name)
    return _REGISTRY


def get(name: str) -> Metric:
    return metrics()[name]


def names() -> tuple[str, ...]:
    return tuple(sorted(metrics()))


def samples_of(data_traits: tuple[str, ...]) -> str:
    """The samples a data source gives: images where it has the component registry's `images` trait."""
    return IMAGES if "images" in data_traits else POINTS


def defaults(samples: str) -> list[str]:
    """eval.metrics when a spec names none, for these samples (points or images)."""
    return [m.name for m in metrics().values() if samples in m.default]


def described() -> str:
    """One line for the schema: every metric, grouped by what it compares."""
    groups = {ANY: "any samples", POINTS: "points", IMAGES: "images"}
    parts = [f"{words}: {' '.join(sorted(m.name for m in metrics().values() if m.on == on))}"
             for on, words in groups.items() if any(m.on == on for m in metrics().values())]
    return "; ".join(parts)


@dataclass(frozen=True)
class Setting:
    """What a metric may need, as the compiler knows it: the samples' kind, each chosen component's
    traits, the image features, whether weights are trained."""

    samples: str
    traits: dict[str, tuple[str, ...]]  # family -> traits of its chosen component
    features: str
    trained: bool

    def has(self, family: str, traits: tuple[str, ...]) -> bool:
        if family == "run":
            return all(trait == "trained" and self.trained for trait in traits)
        return set(traits) <= set(self.traits.get(family, ()))


def unmet(m: Metric, setting: Setting) -> tuple | None:
    """The first need of `m` that `setting` lacks, as data: ("on", kind) | ("needs", family, trait) |
    ("features", allowed) | ("trained",); None when it applies."""
    if not m.applies_to(setting.samples):
        return ("on", m.on)
    for family, traits in m.needs.items():
        for trait in traits:
            if not setting.has(family, (trait,)):
                return ("needs", family, trait)
    if m.features and setting.features not in m.features:
        return ("features", m.features)
    if m.trained and not setting.trained:
        return ("trained",)
    return None


def applicable(setting: Setting) -> list[str]:
    return [name for name in names() if unmet(get(name), setting) is None]


def to_compute(listed: list[str], setting: Setting) -> tuple[str, ...]:
    """The listed metrics, then every automatic one that applies (each once)."""
    out = list(dict.fromkeys(listed))
    out += [m.name for m in metrics().values() if m.name not in out and automatic_here(m, setting)]
    return tuple(out)


def automatic_here(m: Metric, setting: Setting) -> bool:
    """Whether `m` is computed here unlisted: it is automatic and applies, or has the traits it names."""
    if isinstance(m.automatic, dict):
        return all(setting.has(family, traits) for family, traits in m.automatic.items())
    return m.automatic and unmet(m, setting) is None


# ------------------------------------------------------------------------- what a user reads


def floored(key: str, metrics_json: dict) -> tuple[float, float, float] | None:
    """(value, floor, value / floor) of a key that has a floor in metrics.json, else None."""
    floor = metrics_json.get(f"{key}_floor")
    value = metrics_json.get(key)
    if not isinstance(floor, (int, float)) or not isinstance(value, (int, float)):
        return None
    ratio = value / floor if floor else (math.inf if value else 1.0)
    return float(value), float(floor), ratio


def _number(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.3g}"
    return str(v)


def summary(metrics_json: dict) -> list[str]:
    """One line per metrics.json key for the terminal, floors beside their metric:
    `swd 0.043 (floor 0.021, 2.0x)`; the floors themselves get no line of their own."""
    lines = []
    for key, value in metrics_json.items():
        if key.endswith("_floor") and key[: -len("_floor")] in metrics_json:
            continue
        pair = floored(key, metrics_json)
        if pair is None:
            lines.append(f"{key} {_number(value)}")
        else:
            lines.append(f"{key} {_number(pair[0])} (floor {_number(pair[1])}, {pair[2]:.1f}x)")
    return lines
