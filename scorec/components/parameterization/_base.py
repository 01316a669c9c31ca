"""What every parameterization shares: its IR node (what its network regresses, and the
weight of its standard loss) and the check that it has noise to parameterize.

Every parameterization's fragment defines `ScoreModel` (`.score`, `.eps`, `.x0` and
`.prediction`, the quantity its network estimates), `prediction_target(x0, z, t)` (what
`.prediction` regresses to for x_t = alpha x_0 + sigma z) and `oracle_output(exact, x, t)`
(what its network outputs for the exact model). Objectives train any of them alike:
weight(t) |prediction(x_t, t) - prediction_target(x_0, z, t)|^2 is the standard loss of
each family (DDPM's eps loss, the v loss, EDM's preconditioned loss, flow matching).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core import expr as E
from ...core.diagnostics import SpecError
from ...core.hints import hint
from ...core.ir import ParameterizationNode
from .. import registry


@dataclass(frozen=True, kw_only=True)
class PredictionNode(ParameterizationNode):
    prediction: str  # what the network's output estimates, as people write it: "eps", "x_0", "v"
    loss: str  # the standard loss, as people write it
    weight: E.Expr | None = None  # the standard loss's weight, an expression in t (None: unweighted)


def needs_noise(options, ctx, what: str) -> None:
    """A located error where the process has no noise (sigma = 0): `what` the network predicts
    then has no meaning; only a model of the density itself (score, energy) fits there."""
    if not ctx.has("process", "timeless"):
        return
    fitting = registry.fitting("parameterization", {"parameterization": ("density_model",)})
    raise SpecError(f"parameterization '{options.kind}' {what}, and process '{ctx.chosen['process'].kind}' "
                    "has no noise (sigma = 0)", ctx.span(),
                    hint("use ", registry.choice("parameterization", fitting), " (a model of the data density itself)"),
                    "E0301")
