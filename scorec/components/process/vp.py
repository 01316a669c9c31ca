"""Variance-preserving SDE (Song et al. 2021): the continuous limit of DDPM's chain."""

from __future__ import annotations

from typing import Literal

from ...core import expr as E
from ...core.ir import Definition
from ..registry import component
from ._gaussian import CONTINUOUS_TRAITS, BetaLinearOptions, GaussianSDENode, call, gaussian_sde, one_minus_exp


@component("process", traits=CONTINUOUS_TRAITS, template="process/_gaussian_sde.py.j2")
class VPProcess(BetaLinearOptions):
    """dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw."""

    kind: Literal["vp"]

    def lower(self, ctx) -> GaussianSDENode:
        constants, definitions = self.beta_definitions()
        definitions += [
            Definition("sigma", E.call("sqrt", one_minus_exp(call("int_beta"))), "std s(t) = sqrt(1 - exp(-int beta))"),
            Definition("g", E.call("sqrt", call("beta")), "diffusion g(t) = sqrt(beta(t))"),
        ]
        return gaussian_sde("vp", "dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw", constants, tuple(definitions),
                            E.mul(E.num(-0.5), call("beta")), self.training_time)
