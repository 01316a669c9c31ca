"""Where a few-step sampler puts its steps: `sample.grid: {kind, rho, ...}`.

A grid is `steps + 1` levels of the process, noisiest first: the sampler evaluates the
network at the first `steps` and, with `denoise: true`, its last step goes to the data
(sigma = 0), which these solvers take as Tweedie's denoiser; with `denoise: false` the
last level is the process's smallest time. Grids defined in sigma or log-SNR reach the
process's time through one generic inverse of lambda(t) = log(alpha(t) / sigma(t)) in
the emitted program (sampler/_levels.py.j2), never a copy per process.

The kinds are a small registry here (each a GridKind: which processes it applies to and
how it reads); their emitted code is templates/sampler/grids/<kind>.py.j2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core.diagnostics import SpecError
from ...core.ir import SamplerNode
from ..options import PositiveFloat, PositiveInt, Section
from ._base import SamplerOptions


@dataclass(frozen=True)
class GridKind:
    name: str
    needs: str | None  # the process trait it needs, if any
    words: str  # how it lays the levels out, for the program's docstring

    @property
    def template(self) -> str:
        return f"sampler/grids/{self.name}.py.j2"


KINDS = {k.name: k for k in (
    GridKind("uniform", None, "the process's own time_grid"),
    GridKind("karras", "gaussian_kernel", "Karras et al.'s spacing of sigma/alpha, rho {rho:g}"),
    GridKind("logsnr", "gaussian_kernel", "uniform in the log-SNR"),
    GridKind("quadratic", "gaussian_kernel", "uniform in sqrt(t)"),
    GridKind("linspace", "discrete_time", "diffusers' 'linspace' timestep spacing"),
    GridKind("leading", "discrete_time", "diffusers' 'leading' timestep spacing (multistep schedulers)"),
    GridKind("trailing", "discrete_time", "diffusers' 'trailing' timestep spacing"),
    GridKind("optimized", "gaussian_kernel", "fitted to this model when sampling (RUN_DIR/grid.json)"),
)}


class GridOptions(Section):
    kind: Literal[tuple(KINDS)] = Field(..., description=" | ".join(KINDS))  # type: ignore[valid-type]
    rho: PositiveFloat = Field(7.0, description="karras: the spacing exponent (7 in Karras et al.)")
    calibration: PositiveInt = Field(256, description="optimized: samples of the calibration batch")
    iterations: PositiveInt = Field(150, description="optimized: Adam steps over the levels")
    reference_steps: PositiveInt = Field(200, description="optimized: steps of the reference solution")


@dataclass(frozen=True)
class GridNode:
    kind: str
    rho: float
    calibration: int
    iterations: int
    reference_steps: int
    template: str
    text: str  # in words, for the emitted docstring


class GridSamplerOptions(SamplerOptions):
    """A sampler that walks any process with a Gaussian kernel on a chosen grid."""

    grid: GridOptions | None = Field(None, description="where the steps go (null: the sampler's default "
                                                       "for the process)")

    def default_grid(self, ctx) -> str:
        """The grid a spec gets when it names none."""
        return "linspace" if ctx.has("process", "discrete_time") else "logsnr"

    def lower_grid(self, ctx, min_steps: int = 1) -> GridNode:
        """The grid's node; a located error where the kind does not apply to the process."""
        options = self.grid or GridOptions(kind=self.default_grid(ctx))
        kind = KINDS[options.kind]
        if kind.needs is not None and not ctx.has("process", kind.needs):
            fits = [k.name for k in KINDS.values() if k.needs is None or ctx.has("process", k.needs)]
            raise SpecError(f"grid '{kind.name}' does not apply to process '{ctx.chosen['process'].kind}': "
                            f"it needs {_phrase(kind.needs)}", ctx.span("grid", "kind"),
                            f"grids for this process: {', '.join(fits)}", code="E0301")
        if self.steps < min_steps:
            raise ctx.error("steps", f"sample.steps ({self.steps}) is too few for sampler '{self.sampler}'",
                            f"use at least {min_steps} steps")
        text = kind.words.format(rho=options.rho)
        return GridNode(kind=kind.name, rho=options.rho, calibration=options.calibration,
                        iterations=options.iterations, reference_steps=options.reference_steps,
                        template=kind.template, text=f"{self.steps} steps, {text}"
                        + ("; last step to the data" if self.denoise else ""))

    def check_order(self, ctx, order: int, field: str = "order") -> None:
        """A multistep order needs that many steps to build its history."""
        if order > self.steps:
            raise ctx.error(field, f"{field} {order} needs at least {order} steps, but sample.steps is {self.steps}",
                            f"lower {field} to at most {self.steps}, or raise sample.steps")

    def grid_fields(self, ctx, nfe: int, min_steps: int = 1) -> dict:
        """The SamplerNode fields of a grid sampler: the common ones, the grid, and no separate denoiser
        (the last step to the data is the denoiser)."""
        grid = self.lower_grid(ctx, min_steps)
        common = self.common(ctx, nfe=nfe, final_denoise=False)
        return {**common, "grid": grid.text, "time_grid": grid, "denoise_last": self.denoise,
                "prepares": grid.kind == "optimized"}


def _phrase(trait: str) -> str:
    from ..registry import FAMILIES

    return FAMILIES["process"].traits[trait].phrase


@dataclass(frozen=True, kw_only=True)
class GridSamplerNode(SamplerNode):
    time_grid: GridNode
    denoise_last: bool  # the last step goes to the data (sigma = 0): the denoiser, no extra evaluation
    prepares: bool  # sample.py calls prepare_sampler(model, run_dir, device) once before sampling
