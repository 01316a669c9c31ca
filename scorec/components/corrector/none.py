"""No corrector: predictor steps alone (`corrector: null` in a spec)."""

from __future__ import annotations

from typing import Literal

from ...core.ir import CorrectorNode
from ..options import Section
from ..registry import component


@component("corrector", accepts_null=True)
class NoCorrector(Section):
    kind: Literal["none"]

    def lower(self, ctx) -> CorrectorNode:
        return CorrectorNode(kind="none", nfe=0)
