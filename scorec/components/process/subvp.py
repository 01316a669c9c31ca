"""Sub-VP SDE (Song et al. 2021): VP's drift, a smaller diffusion; its variance stays below VP's."""

from __future__ import annotations

from typing import Literal

from ...core import expr as E
from ...core.ir import Definition
from ..registry import component
from ._gaussian import CONTINUOUS_TRAITS, BetaLinearOptions, GaussianSDENode, call, gaussian_sde, one_minus_exp


@component("process", traits=CONTINUOUS_TRAITS, template="process/_gaussian_sde.py.j2")
class SubVPProcess(BetaLinearOptions):
    """dx = -1/2 beta(t) x dt + sqrt(beta(t) (1 - exp(-2 int_0^t beta))) dw."""

    kind: Literal["subvp"]

    def lower(self, ctx) -> GaussianSDENode:
        constants, definitions = self.beta_definitions()
        definitions += [
            Definition("sigma", one_minus_exp(call("int_beta")), "std s(t) = 1 - exp(-int beta)"),
            Definition(
                "g",
                E.call("sqrt", E.mul(call("beta"), one_minus_exp(E.mul(E.num(2.0), call("int_beta"))))),
                "diffusion g(t) = sqrt(beta(t) (1 - exp(-2 int beta)))",
            ),
        ]
        return gaussian_sde("subvp", "dx = -1/2 beta(t) x dt + sqrt(beta(t) (1 - exp(-2 int_0^t beta))) dw",
                            constants, tuple(definitions), E.mul(E.num(-0.5), call("beta")), self.training_time)
