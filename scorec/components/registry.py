"""The component registry: family -> kind -> component (DESIGN.md §2).

A component is one module: its options (a pydantic model whose tag field names its
kind), what it needs of the other families and what it provides to them (traits), its
lowering to its own IR node, and its template fragment. The registry assembles the
schema's discriminated unions, fills context-dependent defaults, dispatches lowering and
computes compatibility diagnostics from the declared needs; nothing outside a
component's own module names its kind.

Family contracts: each family's fragment defines the names in `defines` (plus those of
the traits its component provides) and may use only the names of the families in
`may_use` (and the skeleton's utilities). tests/test_contracts.py checks every example.
"""

from __future__ import annotations

import importlib
import pkgutil
import typing
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Callable, Literal, Union

from pydantic import BaseModel, Discriminator, Field, Tag

from ..core.hints import ChooseKind


@dataclass(frozen=True)
class Trait:
    """A capability a component provides: the names it adds to its fragment's contract."""

    phrase: str  # how a diagnostic names a component with it: "a discrete process"
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    name: str  # "sampler"; its fragments are templates/<name>/<kind>.py.j2
    tag: str  # the key whose value picks the kind: kind | source | sampler
    defines: tuple[str, ...]  # names every fragment of the family defines in emitted code
    may_use: tuple[str, ...] = ()  # families whose contract names a fragment may use
    traits: dict[str, Trait] = field(default_factory=dict)
    # the spec names the kind alone (`parameterization: eps`); a kind with options may also be a section
    scalar: bool = False


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("data", "source", ("DATA_SHAPE", "load_data", "reference_data"), traits={
        "mixture": Trait("a Gaussian-mixture data source", ("GMM_WEIGHTS", "GMM_MEANS", "GMM_STDS")),
        # PIXEL_LEVELS: the levels k of a channel, held as 2k / (PIXEL_LEVELS - 1) - 1 in [-1, 1] (bits/dim)
        "images": Trait("an image data source", ("augment", "PIXEL_LEVELS")),
        "labelled": Trait("a labelled data source (class labels: classifier features, IS, conditional models)",
                          ("load_labels",)),
        # load_data gives a torch Dataset (larger than memory), not an array: train.py streams it
        # through DataLoader workers (the Dataset's `workers` attribute)
        "streamed": Trait("a data source streamed from disk"),
    }),
    Family("process", "kind",
           ("alpha", "sigma", "prior_sample", "draw_time", "time_grid", "time_input"), traits={
               # prior_log_density(x): the density of prior_sample's law (the likelihood's noise end)
               "continuous_time": Trait("a continuous process", ("T_EPS", "drift", "diffusion", "prior_log_density")),
               "discrete_time": Trait("a discrete process", ("N_STEPS", "alpha_bar")),
               "noise_levels": Trait("an NCSN ladder of noise levels", ("N_LEVELS", "SIGMAS")),
               # shared by continuous processes and NCSN ladders: x_t = alpha x_0 + sigma z at any
               # training time, with sigma(t) a smooth noise scale (what dsm needs)
               "noise_conditional": Trait("a noise-conditional process (continuous time or an NCSN ladder)"),
               # the grid's last time has a density that MCMC can target: t = T_EPS, the smallest
               # NCSN level, or the data itself; its node has mcmc_text() saying which
               "density_end": Trait("a density at the grid's last time (a continuous process, "
                                    "an NCSN ladder, or the data density itself)"),
               "timeless": Trait("no time (the data density itself)"),
               "gaussian_kernel": Trait("a process with a Gaussian kernel x_t = alpha(t) x_0 + sigma(t) z"),
               # alpha(t) + sigma(t) = 1, linear in t: ipndm's default grid is uniform in t there
               "straight_path": Trait("a straight path x_t = (1 - t) x_0 + t z"),
           }),
    # what a conditional model is conditioned on (model.condition; optional): the embedding the networks add
    # to their time embedding, its null value (the unconditional model), and the training dropout to it
    Family("condition", "kind", ("CONDITION_DROPOUT", "ConditionEmbedding", "null_condition", "drop_condition"),
           ("data",)),
    Family("network", "kind", ("build_network",), ("data", "process", "parameterization", "condition"), traits={
        "exact": Trait("an exact (analytic) score"),
        # train.distributed: fsdp shards the weights block by block: network_blocks(net) names the blocks
        "shardable": Trait("a network FSDP can shard block by block", ("network_blocks",)),
    }),
    Family("parameterization", "kind", ("ScoreModel", "prediction_target", "oracle_output"), ("process",),
           scalar=True, traits={
               # the network outputs one scalar E(x, t) per sample; ScoreModel.energy is defined
               "scalar_energy": Trait("an energy E(x, t) (p_t proportional to exp(-E))"),
               # meaningful without noise (process none): the score or the energy of the density itself
               "density_model": Trait("a model of the density itself (its score or energy)"),
               # x_0 and eps stay finite where alpha(t) = 0 (a zero-terminal-SNR chain's last step)
               "terminal_safe": Trait("a parameterization that stays finite where alpha(t) = 0"),
               # the network predicts u = alpha'(t) x_0 + sigma'(t) z, what flow matching regresses
               "path_velocity": Trait("a velocity u = alpha'(t) x_0 + sigma'(t) z"),
           }),
    Family("objective", "kind", ("loss_fn",), ("process", "parameterization"), traits={
        "dimension_free": Trait("an objective whose cost per sample does not grow with the dimension"),
        # training state of its own (statistics of the data, a replay buffer, extra parameters):
        # train.py calls setup_objective(net, data, generator) once, before the optimizer exists,
        # and saves/restores the state in checkpoints, so a resumed run continues bit for bit
        "stateful": Trait("an objective with training state of its own",
                          ("setup_objective", "objective_state_dict", "load_objective_state_dict")),
        # the objective trains log Z with the energy: setup_objective registers a scalar parameter
        # `log_z` on the network, and log p(x) = -E(x) - log_z is a normalized density
        "normalized": Trait("an objective that leaves the model normalized (a learned log_z)"),
        # the model is evaluated at the batch's own examples only, each once (no negatives, no noise
        # samples beside them): a conditional model's labels follow the examples
        "per_example": Trait("an objective that evaluates the model at its batch's own examples"),
    }),
    Family("predictor", "kind", ("predictor",), ("process", "parameterization"), scalar=True),
    Family("corrector", "kind", ("corrector",), ("process", "parameterization")),
    # data: MCMC chains may start at (or span the range of) data points, sample's `init`
    Family("sampler", "sampler", ("sample",),
           ("process", "parameterization", "predictor", "corrector", "data")),
)}


@dataclass(frozen=True)
class Component:
    """Everything the compiler knows of one component besides its options' fields."""

    family: str
    kind: str
    options: type  # the pydantic model; its method `lower(ctx)` gives the IR node
    needs: dict[str, tuple[str, ...]]  # family -> traits the chosen component there must have
    traits: tuple[str, ...]  # what this component provides
    default_for: tuple[str, ...]  # the family's default where the process has one of these traits
    default: bool  # the family's default everywhere
    accepts_null: bool  # `key: null` in a spec chooses this component
    template: str
    module: str
    # traits provided only when an option is set: {trait: option} (npz's labelled with label_key)
    when: dict[str, str] = field(default_factory=dict)

    def provided(self, options: Any) -> "Component":
        """This component as chosen with `options`: its traits plus those its options switch on."""
        extra = tuple(t for t, key in self.when.items() if getattr(options, key, None))
        return replace(self, traits=self.traits + extra) if extra else self

    @property
    def fragment_names(self) -> tuple[str, ...]:
        """The contract this component's fragment defines."""
        family = FAMILIES[self.family]
        return family.defines + tuple(n for t in self.traits for n in family.traits[t].names)


_REGISTRY: dict[str, dict[str, Component]] = {name: {} for name in FAMILIES}


def component(family: str, *, needs: dict[str, tuple[str, ...]] | None = None, traits: tuple[str, ...] = (),
              default_for: tuple[str, ...] = (), default: bool = False, accepts_null: bool = False,
              template: str | None = None, when: dict[str, str] | None = None) -> Callable[[type], type]:
    """Class decorator registering an options model as a component of `family`. `when`: traits the
    component provides only where an option of it is set, {trait: option name}."""
    fam = FAMILIES[family]

    def register(options: type) -> type:
        kind = _tag_of(options, fam.tag)
        for t in (*traits, *(when or {})):
            if t not in fam.traits:
                raise TypeError(f"{options.__name__}: family {family} has no trait {t!r}")
        for other, wanted in (needs or {}).items():
            unknown = set(wanted) - set(FAMILIES[other].traits)
            if unknown:
                raise TypeError(f"{options.__name__}: family {other} has no trait {sorted(unknown)}")
        if kind in _REGISTRY[family]:
            raise TypeError(f"{family} '{kind}' is registered twice")
        _REGISTRY[family][kind] = Component(
            family=family, kind=kind, options=options, needs=dict(needs or {}), traits=tuple(traits),
            default_for=tuple(default_for), default=default, accepts_null=accepts_null,
            template=template or f"{family}/{kind}.py.j2", module=options.__module__, when=dict(when or {}),
        )
        return options

    return register


def _tag_of(options: type, tag: str) -> str:
    annotation = options.model_fields[tag].annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is not Literal or len(args) != 1:
        raise TypeError(f"{options.__name__}.{tag} must be a Literal of one kind")
    return args[0]


_loaded: set[str] = set()


def _load_family(family: str) -> None:
    """Import every module of scorec/components/<family>/ once; each registers itself.

    A module whose name starts with `_` is a helper of the family's components (shared
    options, derivations): it registers nothing, and importing it is harmless."""
    if family in _loaded:
        return
    _loaded.add(family)
    package = importlib.import_module(f"scorec.components.{family}")
    for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        importlib.import_module(info.name)


def components(family: str) -> dict[str, Component]:
    _load_family(family)
    return _REGISTRY[family]


def get(family: str, kind: str) -> Component:
    return components(family)[kind]


def all_components() -> list[Component]:
    return [c for family in FAMILIES for c in components(family).values()]


@dataclass(frozen=True)
class FamilyField:
    """Marks a spec field whose value is a component of `family` (read by fill_defaults)."""

    family: str


def union(family: str) -> Any:
    """The spec type of a component of `family`: a discriminated union on the family's tag
    (or, for a scalar family, a Literal of its kinds, or a section for a kind with options)."""
    members = components(family)
    fam = FAMILIES[family]
    options = tuple(members[k].options for k in sorted(members))
    if not fam.scalar:
        return Annotated[_tagged(options, fam.tag), FamilyField(family)]
    names = Literal[tuple(sorted(members))]
    if all(set(o.model_fields) == {fam.tag} for o in options):
        return Annotated[names, FamilyField(family)]
    # A kind with options may also be written as a section ({kind: edm, sigma_data: 0.5}); the value's
    # type picks the branch, so a mistake gets one error. (Branch names in brackets: the validator's
    # error paths skip them like its own validator names.)
    return Annotated[Union[Annotated[names, Tag("name[]")], Annotated[_tagged(options, fam.tag), Tag("section[]")]],
                     Discriminator(lambda value: "section[]" if isinstance(value, (dict, BaseModel)) else "name[]"),
                     FamilyField(family)]


def _tagged(options: tuple[type, ...], tag: str) -> Any:
    """Options models discriminated by their tag field."""
    inner = options[0] if len(options) == 1 else Union[options]
    return Annotated[inner, Field(discriminator=tag)]


def default_kind(family: str, process_traits: tuple[str, ...] = ()) -> str | None:
    """The kind a spec gets when it names none: the one made default for the process's
    traits, else the family's default."""
    members = components(family).values()
    for c in members:
        if set(c.default_for) & set(process_traits):
            return c.kind
    return next((c.kind for c in members if c.default), None)


def null_kind(family: str) -> str | None:
    return next((c.kind for c in components(family).values() if c.accepts_null), None)


def fitting(family: str, needed: dict[str, tuple[str, ...]]) -> list[str]:
    """Kinds of `family` that provide every trait in needed[family]."""
    wanted = set(needed.get(family, ()))
    return sorted(c.kind for c in components(family).values() if wanted <= set(c.traits))


def fitting_when(family: str, trait: str) -> list[tuple[str, str]]:
    """(kind, option) of the components of `family` that provide `trait` where that option is set."""
    return sorted((c.kind, c.when[trait]) for c in components(family).values() if trait in c.when)


def satisfied_by(family: str, chosen: dict[str, Component]) -> list[str]:
    """Kinds of `family` whose needs the chosen components meet."""
    out = []
    for c in components(family).values():
        if all(set(traits) <= set(chosen[f].traits) for f, traits in c.needs.items() if f in chosen):
            out.append(c.kind)
    return sorted(out)


def choice(family: str, kinds: list[str]) -> ChooseKind:
    """A fix choosing among `kinds`, for a core.hints.hint; as text, how a YAML spec chooses:
    'sampler: a, b', 'objective kind: a', 'parameterization: a'."""
    fam = FAMILIES[family]
    return ChooseKind(family, tuple(kinds), None if fam.scalar else fam.tag)


def default_options(family: str) -> Any:
    """The options of the family's default component, all its fields defaulted."""
    kind = default_kind(family)
    return get(family, kind).options(**{FAMILIES[family].tag: kind})
